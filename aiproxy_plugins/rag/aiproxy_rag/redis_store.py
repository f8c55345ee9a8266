"""Knowledge bases in Redis, for gateways that share a Redis: every process sees every base.

Keys, under the gateway's prefix (``P`` = ``<prefix>:rag:<tenant_id>``)::

    P:bases                 hash  kb_id -> the base's settings (JSON)
    P:<kb_id>:version       string, a new random value on every change
    P:<kb_id>:documents     hash  doc_id -> the document's record (JSON)
    P:<kb_id>:chunks        hash  doc_id -> its chunks' texts (JSON list)
    P:<kb_id>:vectors       hash  doc_id -> its chunks' vectors (base64 of float32 rows)

A document's three fields are written (or removed) in one MULTI with the new version, so readers
never see chunks without vectors. Indexes are not stored: each process rebuilds a base's index
from these when the version it cached differs (an exact index over 10,000 chunks builds in
milliseconds). Vectors are base64 because the gateway's client decodes every reply as text.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import numpy as np
from redis.asyncio import Redis
from redis.exceptions import WatchError

from .index import VectorIndex
from .kb_store import Contents
from .records import Chunk, Document, KnowledgeBase

__all__ = ["RedisStore"]

DIMENSION = 384


class RedisStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:rag"

    def _bases_key(self, tenant_id: str) -> str:
        return f"{self._prefix}:{tenant_id}:bases"

    def _key(self, tenant_id: str, kb_id: str, part: str) -> str:
        return f"{self._prefix}:{tenant_id}:{kb_id}:{part}"

    def _parts(self, tenant_id: str, kb_id: str) -> list[str]:
        return [self._key(tenant_id, kb_id, part) for part in ("version", "documents", "chunks", "vectors")]

    # -- bases -------------------------------------------------------------------------------

    async def put_base(self, base: KnowledgeBase) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._bases_key(base.tenant_id), base.id, base.model_dump_json())
            pipe.set(self._key(base.tenant_id, base.id, "version"), uuid.uuid4().hex)
            await pipe.execute()

    async def get_base(self, tenant_id: str, kb_id: str) -> KnowledgeBase | None:
        raw = await self._redis.hget(self._bases_key(tenant_id), kb_id)
        return KnowledgeBase.model_validate_json(raw) if raw else None

    async def list_bases(self, tenant_id: str) -> list[KnowledgeBase]:
        raw = await self._redis.hvals(self._bases_key(tenant_id))
        bases = [KnowledgeBase.model_validate_json(value) for value in raw]
        return sorted(bases, key=lambda base: (base.created_at, base.id))

    async def delete_base(self, tenant_id: str, kb_id: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._bases_key(tenant_id), kb_id)
            pipe.delete(*self._parts(tenant_id, kb_id))
            removed, _ = await pipe.execute()
        return bool(removed)

    # -- documents ---------------------------------------------------------------------------

    async def add_document(self, tenant_id: str, kb_id: str, document: Document, chunks: list[Chunk], vectors: np.ndarray) -> bool:
        texts = json.dumps([chunk.text for chunk in chunks])
        packed = base64.b64encode(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).decode()
        return await self._change(
            tenant_id,
            kb_id,
            lambda pipe: [
                pipe.hset(self._key(tenant_id, kb_id, "documents"), document.id, document.model_dump_json()),
                pipe.hset(self._key(tenant_id, kb_id, "chunks"), document.id, texts),
                pipe.hset(self._key(tenant_id, kb_id, "vectors"), document.id, packed),
            ],
        )

    async def delete_document(self, tenant_id: str, kb_id: str, document_id: str) -> bool:
        if not await self._redis.hexists(self._key(tenant_id, kb_id, "documents"), document_id):
            return False
        return await self._change(
            tenant_id,
            kb_id,
            lambda pipe: [pipe.hdel(self._key(tenant_id, kb_id, part), document_id) for part in ("documents", "chunks", "vectors")],
        )

    async def _change(self, tenant_id: str, kb_id: str, commands: Any) -> bool:
        """Run ``commands`` and a new version in one MULTI, only while the base still exists.

        WATCH on the bases hash turns a delete racing with this write into a retry, which then
        sees the base gone, instead of orphaned keys.
        """
        bases_key = self._bases_key(tenant_id)
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(bases_key)
                    if not await pipe.hexists(bases_key, kb_id):
                        return False
                    pipe.multi()
                    commands(pipe)
                    pipe.set(self._key(tenant_id, kb_id, "version"), uuid.uuid4().hex)
                    await pipe.execute()
                    return True
                except WatchError:
                    continue

    async def list_documents(self, tenant_id: str, kb_id: str) -> list[Document]:
        raw = await self._redis.hvals(self._key(tenant_id, kb_id, "documents"))
        return _in_order([Document.model_validate_json(value) for value in raw])

    # -- reading for retrieval ---------------------------------------------------------------

    async def version(self, tenant_id: str, kb_id: str) -> str | None:
        value: str | None = await self._redis.get(self._key(tenant_id, kb_id, "version"))
        return value

    async def contents(self, tenant_id: str, kb_id: str) -> Contents | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._bases_key(tenant_id), kb_id)
            for part in ("version", "documents", "chunks", "vectors"):
                key = self._key(tenant_id, kb_id, part)
                pipe.get(key) if part == "version" else pipe.hgetall(key)
            raw_base, version, raw_documents, raw_chunks, raw_vectors = await pipe.execute()
        if not raw_base or version is None:
            return None
        documents = _in_order([Document.model_validate_json(value) for value in raw_documents.values()])
        chunks: list[Chunk] = []
        rows: list[np.ndarray] = []
        for document in documents:
            texts = json.loads(raw_chunks[document.id])
            chunks.extend(Chunk(document_id=document.id, position=i, text=text) for i, text in enumerate(texts))
            rows.append(np.frombuffer(base64.b64decode(raw_vectors[document.id]), dtype=np.float32).reshape(-1, DIMENSION))
        vectors = np.vstack(rows) if rows else np.zeros((0, DIMENSION), dtype=np.float32)
        base = KnowledgeBase.model_validate_json(raw_base)
        return Contents(base, version, {d.id: d for d in documents}, chunks, vectors)

    async def keep_index(self, tenant_id: str, kb_id: str, version: str, index: VectorIndex) -> None:
        return None  # rebuilt per process: cheaper than shipping index files through Redis


def _in_order(documents: list[Document]) -> list[Document]:
    return sorted(documents, key=lambda document: (document.created_at, document.id))
