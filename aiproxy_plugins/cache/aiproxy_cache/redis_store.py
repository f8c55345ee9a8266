"""The shared cache on Redis: every gateway process on the same Redis serves the same answers.

Keys, all under ``<prefix>:cache:<tenant>:``:

* ``e:<exact key>``: the answer (JSON), a string with the entry's TTL (Redis expires it);
* ``s:<scope>``: the semantic index of a scope, a hash of exact key -> float32 vector bytes. A
  vector whose answer expired is dropped when a search meets it; the hash itself expires
  ``ttl`` after its last addition, so an idle scope leaves nothing behind.

Search reads the whole hash and ranks it with numpy: one round trip and ~1.5 kB per answer, fine
for the default cap of 2,000 answers per scope (~3 MB, a few ms); beyond that a vector index
(Redis Stack's FT.SEARCH, or a faiss file per scope) should replace it.
"""

from __future__ import annotations

import numpy as np
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from aiproxy_core import delete_matching

from .similarity import best_matches

__all__ = ["RedisStore"]


class RedisStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        #: A client of the plugin's own: the gateway's decodes replies to str, vectors are bytes.
        self._redis = redis
        self._prefix = f"{prefix}:cache:"

    @classmethod
    def connect(cls, host: str, port: int, password: str | None, db: int, prefix: str) -> "RedisStore":
        """A store on the gateway's Redis server and db, over a client of the cache's own.

        Short timeouts and one quick retry: a cache lookup that waits on a dead Redis delays the
        request it was meant to speed up (redis-py's default retries cost seconds per call).
        """
        client = Redis(
            host=host,
            port=port,
            password=password,
            db=db,
            socket_connect_timeout=0.5,
            socket_timeout=1.0,
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        )
        return cls(client, prefix)

    def _entry(self, tenant: str, key: str) -> str:
        return f"{self._prefix}{tenant}:e:{key}"

    def _index(self, tenant: str, scope: str) -> str:
        return f"{self._prefix}{tenant}:s:{scope}"

    async def get(self, tenant: str, key: str) -> bytes | None:
        value: bytes | None = await self._redis.get(self._entry(tenant, key))
        return value

    async def put(self, tenant: str, key: str, value: bytes, ttl: int) -> None:
        await self._redis.set(self._entry(tenant, key), value, ex=ttl)

    async def add_vector(self, tenant: str, scope: str, key: str, vector: np.ndarray, ttl: int, limit: int) -> None:
        index = self._index(tenant, scope)
        # HLEN then HSET is not atomic: concurrent misses may overshoot the cap by a few entries,
        # which only costs a little memory.
        if await self._redis.hlen(index) >= limit and not await self._redis.hexists(index, key):
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(index, key, np.asarray(vector, dtype=np.float32).tobytes())
            pipe.expire(index, ttl)
            await pipe.execute()

    async def nearest(self, tenant: str, scope: str, vector: np.ndarray, threshold: float, count: int) -> list[tuple[str, float]]:
        stored: dict[bytes, bytes] = await self._redis.hgetall(self._index(tenant, scope))
        if not stored:
            return []
        keys = [k.decode() for k in stored]
        matrix = np.frombuffer(b"".join(stored.values()), dtype=np.float32).reshape(len(keys), -1)
        return best_matches(keys, matrix, vector, threshold, count)

    async def forget_vector(self, tenant: str, scope: str, key: str) -> None:
        await self._redis.hdel(self._index(tenant, scope), key)

    async def count(self, tenant: str) -> int:
        return len([key async for key in self._redis.scan_iter(match=self._entry(tenant, "*"), count=500)])

    async def drop_tenant(self, tenant: str) -> None:
        await delete_matching(self._redis, f"{self._prefix}{tenant}:*")

    async def close(self) -> None:
        await self._redis.aclose()
