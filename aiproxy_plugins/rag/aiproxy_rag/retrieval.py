"""Searching a knowledge base: the query's embedding against a FAISS index cached per process.

The cache holds one deserialized base per (tenant, base), tagged with the version it was
stored under; each search costs one read of the base's small head value, and a changed version
(a document added or deleted, here or by another gateway process on the same backend) reloads
the base once, however many searches arrive meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiproxy_core import NotFound

from .contents import Contents
from .kb_store import KnowledgeStore
from .records import Chunk, Document

__all__ = ["Hit", "Retriever"]


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    document: Document
    score: float

    def public(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk.id,
            "document_id": self.document.id,
            "title": self.document.title,
            "metadata": self.document.metadata,
            "score": round(self.score, 4),
            "text": self.chunk.text,
        }


class Retriever:
    def __init__(self, store: KnowledgeStore) -> None:
        self._store = store
        self._loaded: dict[tuple[str, str], Contents] = {}
        self._locks: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    async def search(self, tenant_id: str, kb_id: str, query: np.ndarray, top_k: int, min_score: float = -1.0) -> list[Hit]:
        """The ``top_k`` best chunks scoring at least ``min_score``, best first.

        Raises NotFound when the base does not exist (deleted since a rule named it).
        """
        loaded = await self._current(tenant_id, kb_id)
        hits = []
        for row, score in loaded.index.search(query, top_k):
            if score < min_score:
                break  # best first: the rest score lower still
            chunk = loaded.chunks[row]
            hits.append(Hit(chunk, loaded.documents[chunk.document_id], score))
        return hits

    async def index_kind(self, tenant_id: str, kb_id: str) -> str:
        return (await self._current(tenant_id, kb_id)).index.kind

    async def _current(self, tenant_id: str, kb_id: str) -> Contents:
        key = (tenant_id, kb_id)
        head = await self._store.head(tenant_id, kb_id)
        if head is None:
            self._loaded.pop(key, None)
            raise NotFound(f"this tenant has no knowledge base with the id {kb_id!r}", code="knowledge_base_not_found")
        loaded = self._loaded.get(key)
        if loaded is not None and loaded.version == head.version:
            return loaded
        async with self._locks[key]:
            loaded = self._loaded.get(key)
            if loaded is not None and loaded.version == head.version:
                return loaded  # another search loaded it while this one waited
            contents = await self._store.contents(tenant_id, kb_id)
            if contents is None:
                self._loaded.pop(key, None)
                raise NotFound(f"this tenant has no knowledge base with the id {kb_id!r}", code="knowledge_base_not_found")
            self._loaded[key] = contents
            return contents

    def forget(self, tenant_id: str, kb_id: str | None = None) -> None:
        """Drop a cached base (``kb_id`` None: all of the tenant's) from this process's memory."""
        for key in [key for key in self._loaded if key[0] == tenant_id and kb_id in (None, key[1])]:
            self._loaded.pop(key, None)
            self._locks.pop(key, None)
