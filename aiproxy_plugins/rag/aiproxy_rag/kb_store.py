"""The storage contract for knowledge bases, and the snapshot a retriever builds its index from.

Two implementations, chosen by the gateway's own storage (``plugin.py``):

* :class:`~aiproxy_rag.file_store.FileStore` (embedded gateways): files under
  ``data_dir/rag/<tenant>/<kb>/``, FAISS index included, so a restart loads without re-indexing.
* :class:`~aiproxy_rag.redis_store.RedisStore` (gateways on Redis): chunks and vectors in Redis,
  so every gateway process sees the same bases; each process builds its index from them and
  rebuilds when the base's ``version`` changes.

Every change to a base's contents sets a new random ``version``; readers compare it with what
they cached, which costs one small read per request instead of reloading vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .index import VectorIndex
from .records import Chunk, Document, KnowledgeBase

__all__ = ["Contents", "KnowledgeStore"]


@dataclass(frozen=True)
class Contents:
    """A consistent snapshot of one base: row ``i`` of ``vectors`` is ``chunks[i]``."""

    base: KnowledgeBase
    version: str
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    #: An index saved for exactly this version, if the store keeps one.
    index: VectorIndex | None = None


class KnowledgeStore(Protocol):
    async def put_base(self, base: KnowledgeBase) -> None: ...

    async def get_base(self, tenant_id: str, kb_id: str) -> KnowledgeBase | None: ...

    async def list_bases(self, tenant_id: str) -> list[KnowledgeBase]: ...

    async def delete_base(self, tenant_id: str, kb_id: str) -> bool:
        """Remove the base and everything in it; False when it did not exist."""
        ...

    async def add_document(self, tenant_id: str, kb_id: str, document: Document, chunks: list[Chunk], vectors: np.ndarray) -> bool:
        """Store a document with its chunks and their vectors in one step; False when the base is gone."""
        ...

    async def delete_document(self, tenant_id: str, kb_id: str, document_id: str) -> bool: ...

    async def list_documents(self, tenant_id: str, kb_id: str) -> list[Document]:
        """The base's documents, oldest first."""
        ...

    async def version(self, tenant_id: str, kb_id: str) -> str | None:
        """The base's contents version; None when the base does not exist."""
        ...

    async def contents(self, tenant_id: str, kb_id: str) -> Contents | None: ...

    async def keep_index(self, tenant_id: str, kb_id: str, version: str, index: VectorIndex) -> None:
        """Offered every index built, so a store that persists indexes can save it."""
        ...
