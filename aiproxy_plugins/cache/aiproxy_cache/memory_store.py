"""The embedded gateway's cache: answers and vectors in this process's memory.

Embedded means one gateway process, so nothing needs sharing; a cache can always be rebuilt from
the upstream, so losing it on restart costs only misses, while a SQLite file would add a disk
write to every miss and a file that grows until pruned. Memory is bounded by :data:`MAX_ENTRIES`
(least recently used answers go first).
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

from .similarity import best_matches

__all__ = ["MemoryStore"]

#: Answers kept per gateway process at most (all tenants together).
MAX_ENTRIES = 10_000


class MemoryStore:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        # (tenant, scope) -> key -> (expires at, vector)
        self._vectors: dict[tuple[str, str], dict[str, tuple[float, np.ndarray]]] = {}

    async def get(self, tenant: str, key: str) -> bytes | None:
        found = self._entries.get((tenant, key))
        if found is None:
            return None
        expires, value = found
        if expires <= time.monotonic():
            del self._entries[(tenant, key)]
            return None
        self._entries.move_to_end((tenant, key))
        return value

    async def put(self, tenant: str, key: str, value: bytes, ttl: int) -> None:
        self._entries[(tenant, key)] = (time.monotonic() + ttl, value)
        self._entries.move_to_end((tenant, key))
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def add_vector(self, tenant: str, scope: str, key: str, vector: np.ndarray, ttl: int, limit: int) -> None:
        index = self._vectors.setdefault((tenant, scope), {})
        now = time.monotonic()
        if len(index) >= limit:
            for stale in [k for k, (expires, _) in index.items() if expires <= now]:
                del index[stale]
        if key in index or len(index) < limit:
            index[key] = (now + ttl, vector)

    async def nearest(self, tenant: str, scope: str, vector: np.ndarray, threshold: float, count: int) -> list[tuple[str, float]]:
        index = self._vectors.get((tenant, scope))
        if not index:
            return []
        keys = list(index)
        matrix = np.stack([index[k][1] for k in keys])
        return best_matches(keys, matrix, vector, threshold, count)

    async def forget_vector(self, tenant: str, scope: str, key: str) -> None:
        index = self._vectors.get((tenant, scope))
        if index is not None:
            index.pop(key, None)
            if not index:
                del self._vectors[(tenant, scope)]

    async def count(self, tenant: str) -> int:
        now = time.monotonic()
        return sum(1 for (owner, _), (expires, _) in self._entries.items() if owner == tenant and expires > now)

    async def drop_tenant(self, tenant: str) -> None:
        for entry in [entry for entry in self._entries if entry[0] == tenant]:
            del self._entries[entry]
        for index in [index for index in self._vectors if index[0] == tenant]:
            del self._vectors[index]

    async def close(self) -> None:
        self._entries.clear()
        self._vectors.clear()
