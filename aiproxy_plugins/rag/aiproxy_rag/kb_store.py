"""Knowledge bases in the core's state API (``services.state("rag")``), on whatever backend the
gateway runs (SQLite embedded, Redis): every gateway process on that backend sees every base.

Three values per base, in the tenant's own namespace (so deleting the tenant drops them, with
no plugin code)::

    base:<kb_id>       JSON  {"base": settings, "version", "documents", "chunks", "bytes"}: small,
                             read once per request to see whether a cached index is current
    documents:<kb_id>  JSON  the documents' records, oldest first (for listing; absent when none)
    contents:<kb_id>   bytes documents, chunk texts and the FAISS index (``contents.py``; absent
                             when the base has no chunks)

A change reads the head and the contents, builds the next version, and writes all three in one
``atomic`` step conditioned on the head it read (``CompareAndSet``): of two ingestions racing
(in this process or another), one applies and the other starts again from the new contents, so
neither loses the other's chunks, and a base deleted meanwhile is not written back.

Every change rewrites the base's contents value whole, and a value holds at most 512 MiB (on
Redis bytes are base64: about 384 MiB), so a base holds at most ``MAX_KNOWLEDGE_BASE_BYTES``:
an ingestion that would pass it is refused (413 ``knowledge_base_full``) and changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from aiproxy_core import GatewayError
from aiproxy_core.state import CompareAndSet, Delete, Operation, PluginState, Set, Values

from .contents import DIMENSION, Contents
from .records import Chunk, Document, KnowledgeBase

__all__ = ["MAX_KNOWLEDGE_BASE_BYTES", "MAX_KNOWLEDGE_BASES", "BaseHead", "KnowledgeStore"]

#: The largest contents value of one base (documents, chunk texts, index): 360 MiB, under the
#: state API's 512 MiB per value once Redis has base64-encoded it (x 4/3), on every backend alike
#: so a base that fits embedded also fits on Redis: about 140,000 chunks of 800 characters
#: (measured: 2.4 KB per chunk with a flat index, 2.7 KB with HNSW).
MAX_KNOWLEDGE_BASE_BYTES = 360 * 1024 * 1024
#: Bases per tenant (listing reads them all at once: ``Values.keys`` has no cursor).
MAX_KNOWLEDGE_BASES = 10_000
#: What a chunk adds to the contents besides its text: its float32 vector, index and JSON overhead.
CHUNK_OVERHEAD_BYTES = DIMENSION * 4 + 128
#: Reads of the head and the contents that disagree (a change landed in between) before giving up.
_CONSISTENT_READ_TRIES = 8


@dataclass(frozen=True)
class BaseHead:
    """The small per-base value: its settings, its contents version and sizes."""

    base: KnowledgeBase
    version: str
    documents: int
    chunks: int
    bytes: int
    raw: dict[str, Any]  # as stored: what a change compares against

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "BaseHead":
        base = KnowledgeBase.model_validate(raw["base"])
        return cls(base, raw["version"], raw["documents"], raw["chunks"], raw["bytes"], raw)


def _head(base: KnowledgeBase, contents: Contents, size: int) -> dict[str, Any]:
    return {
        "base": base.model_dump(mode="json"),
        "version": contents.version,
        "documents": len(contents.documents),
        "chunks": len(contents.chunks),
        "bytes": size,
    }


def _new_version() -> str:
    return uuid.uuid4().hex


class KnowledgeStore:
    def __init__(self, state: PluginState, max_base_bytes: int = MAX_KNOWLEDGE_BASE_BYTES) -> None:
        self._state = state
        self.max_base_bytes = max_base_bytes

    def _values(self, tenant_id: str) -> Values:
        return self._state.values(tenant_id)

    # -- bases -------------------------------------------------------------------------------

    async def put_base(self, base: KnowledgeBase) -> None:
        """Create ``base`` (empty); refused past :data:`MAX_KNOWLEDGE_BASES` per tenant."""
        values = self._values(base.tenant_id)
        if len(await values.keys("base:", limit=MAX_KNOWLEDGE_BASES)) >= MAX_KNOWLEDGE_BASES:
            raise GatewayError(
                f"a tenant holds at most {MAX_KNOWLEDGE_BASES} knowledge bases: delete one first",
                status=409,
                code="too_many_knowledge_bases",
            )
        head = _head(base, Contents.empty(_new_version(), base.hnsw_threshold), 0)
        if not await values.set_if_absent(f"base:{base.id}", head):
            raise RuntimeError(f"knowledge base id {base.id} is taken")  # 64 random bits: never in practice

    async def head(self, tenant_id: str, kb_id: str) -> BaseHead | None:
        raw = await self._values(tenant_id).get(f"base:{kb_id}")
        return BaseHead.parse(raw) if raw is not None else None

    async def get_base(self, tenant_id: str, kb_id: str) -> KnowledgeBase | None:
        head = await self.head(tenant_id, kb_id)
        return head.base if head is not None else None

    async def list_heads(self, tenant_id: str) -> list[BaseHead]:
        values = self._values(tenant_id)
        heads = []
        for key in await values.keys("base:", limit=MAX_KNOWLEDGE_BASES):
            raw = await values.get(key)
            if raw is not None:  # deleted since it was listed
                heads.append(BaseHead.parse(raw))
        return sorted(heads, key=lambda head: (head.base.created_at, head.base.id))

    async def list_bases(self, tenant_id: str) -> list[KnowledgeBase]:
        return [head.base for head in await self.list_heads(tenant_id)]

    async def delete_base(self, tenant_id: str, kb_id: str) -> bool:
        """Remove the base and everything in it, in one step; False when it did not exist. An
        ingestion racing with it finds the head gone and writes nothing back."""
        values = self._values(tenant_id)
        while True:
            head = await values.get(f"base:{kb_id}")
            if head is None:
                return False
            keys = (f"base:{kb_id}", f"documents:{kb_id}", f"contents:{kb_id}")
            # Conditioned on the head, so of two deletes racing exactly one answers True.
            if await values.atomic([CompareAndSet(keys[0], head, head), *(Delete(key) for key in keys)]):
                return True

    # -- documents ---------------------------------------------------------------------------

    def check_room(self, head: BaseHead, texts: list[str]) -> None:
        """Refuse, before anything is embedded, an ingestion that will surely not fit."""
        estimate = head.bytes + sum(len(text.encode()) + CHUNK_OVERHEAD_BYTES for text in texts)
        if estimate > self.max_base_bytes:
            self._refuse_full(head.base)

    def _refuse_full(self, base: KnowledgeBase) -> None:
        raise GatewayError(
            f"knowledge base {base.id} would grow past {self.max_base_bytes} bytes (its documents, chunks and index "
            f"are kept as one value): put further documents in another knowledge base, or delete some first",
            status=413,
            code="knowledge_base_full",
        )

    async def add_document(self, tenant_id: str, kb_id: str, document: Document, chunks: list[Chunk], vectors: np.ndarray) -> bool:
        """Store a document with its chunks and their vectors in one step; False when the base is gone."""

        def change(head: BaseHead, contents: Contents) -> Contents:
            return contents.with_document(_new_version(), document, chunks, vectors, head.base.hnsw_threshold)

        return await self._change(tenant_id, kb_id, change)

    async def delete_document(self, tenant_id: str, kb_id: str, document_id: str) -> bool:
        """False when the base or the document does not exist."""

        def change(head: BaseHead, contents: Contents) -> Contents | None:
            if document_id not in contents.documents:
                return None
            return contents.without_document(_new_version(), document_id, head.base.hnsw_threshold)

        return await self._change(tenant_id, kb_id, change)

    async def list_documents(self, tenant_id: str, kb_id: str) -> list[Document]:
        """The base's documents, oldest first."""
        raw = await self._values(tenant_id).get(f"documents:{kb_id}")
        return [Document.model_validate(record) for record in raw or []]

    async def _change(self, tenant_id: str, kb_id: str, change: Callable[[BaseHead, Contents], Contents | None]) -> bool:
        values = self._values(tenant_id)
        while True:
            read = await self._read(values, kb_id)
            if read is None:
                return False
            head, contents = read
            # Decoding, adding to and encoding an index of many MB: off the event loop.
            changed = await asyncio.to_thread(change, head, contents)
            if changed is None:
                return False
            data = await asyncio.to_thread(changed.encode) if changed.chunks else b""
            if len(data) > self.max_base_bytes:
                self._refuse_full(head.base)
            operations: list[Operation] = [CompareAndSet(f"base:{kb_id}", head.raw, _head(head.base, changed, len(data)))]
            if changed.chunks:
                records = [document.model_dump(mode="json") for document in changed.documents.values()]
                operations += [Set(f"documents:{kb_id}", records), Set(f"contents:{kb_id}", data)]
            else:
                operations += [Delete(f"documents:{kb_id}"), Delete(f"contents:{kb_id}")]
            if await values.atomic(operations):
                return True
            # Another change won the race: start again from what it wrote.

    # -- reading for retrieval ---------------------------------------------------------------

    async def contents(self, tenant_id: str, kb_id: str) -> Contents | None:
        """The base's current contents, decoded (a fresh copy); None when the base does not exist."""
        read = await self._read(self._values(tenant_id), kb_id)
        return read[1] if read is not None else None

    async def _read(self, values: Values, kb_id: str) -> tuple[BaseHead, Contents] | None:
        """The head and the contents of one version: two reads, repeated when a change landed
        between them (the head names the version the contents must carry)."""
        for _ in range(_CONSISTENT_READ_TRIES):
            raw = await values.get(f"base:{kb_id}")
            if raw is None:
                return None
            head = BaseHead.parse(raw)
            if head.chunks == 0:
                return head, Contents.empty(head.version, head.base.hnsw_threshold)
            data = await values.get(f"contents:{kb_id}")
            if data is not None:
                contents = await asyncio.to_thread(Contents.decode, data)
                if contents.version == head.version:
                    return head, contents
        raise GatewayError(
            "the knowledge base changed during every attempt to read it: try again", status=503, code="knowledge_base_busy"
        )
