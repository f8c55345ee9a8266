"""Turning an uploaded text into stored chunks: extract, chunk, embed, then store in one step.

Everything that can fail (an unreadable PDF, an empty text, a base too full, the model) happens
before the store is touched, so a refused upload changes nothing.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from aiproxy_core import BadRequest, NotFound
from pydantic import JsonValue

from .chunking import split_text
from .kb_store import BaseHead, KnowledgeStore
from .records import Chunk, Document, new_document_id

__all__ = ["Embeds", "ingest"]


class Embeds(Protocol):
    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


async def ingest(
    store: KnowledgeStore,
    embedder: Embeds,
    head: BaseHead,
    text: str,
    *,
    title: str,
    metadata: dict[str, JsonValue],
    content_type: str,
) -> Document:
    base = head.base
    texts = split_text(text, base.chunk_size, base.chunk_overlap)
    if not texts:
        raise BadRequest("the document holds no text to index", code="empty_document")
    store.check_room(head, texts)  # before paying for the embedding; the write checks exactly
    document = Document(
        id=new_document_id(),
        title=title,
        metadata=metadata,
        content_type=content_type,
        characters=len(text),
        chunk_count=len(texts),
    )
    vectors = await embedder.embed(texts)
    chunks = [Chunk(document_id=document.id, position=i, text=chunk) for i, chunk in enumerate(texts)]
    if not await store.add_document(base.tenant_id, base.id, document, chunks, vectors):
        raise NotFound(f"this tenant has no knowledge base with the id {base.id!r}", code="knowledge_base_not_found")
    return document
