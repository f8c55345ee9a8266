"""The semantic index of one scope: its answers' prompt vectors, as one bytes value of the state API.

Why one value per scope (not one per answer): a lookup must rank every vector of the scope, and
one ``get`` of one value is one round trip on every backend, where one value per answer would
need a listing (on Redis a SCAN of the whole database) plus a read per answer. The price is on
the write side, off the request path: an addition rewrites the scope's value (1,608 bytes per
answer, so ~3 MB at the default cap of 2,000).

Layout (little-endian): ``uint32 count, uint32 dim``, then ``count`` exact keys of 64 ASCII
bytes (SHA-256 hex), ``count`` float64 expiry times (Unix seconds), and a ``count x dim``
float32 matrix of unit vectors, contiguous so the lookup multiplies it without copying.

Concurrent writers (several gateway processes missing in one scope at once) must not lose each
other's entries: a small version number sits beside the index, and a write is one atomic step
``CompareAndSet(version) + Set(index)``; a writer that lost the race reads again and retries.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import numpy as np

from aiproxy_core.state import CompareAndSet, Delete, Set, Values

from .similarity import best_rows

__all__ = ["VectorIndex", "add_vector", "forget_vector", "nearest"]

KEY_BYTES = 64
_HEADER = np.dtype("<u4")
#: Tries of a write against writers of other processes before it gives up (the answer stays
#: cached exactly; only its semantic entry is lost). Between tries a random pause of up to
#: ``attempt`` x :data:`RETRY_PAUSE_SECONDS` spreads the writers apart.
WRITE_ATTEMPTS = 20
RETRY_PAUSE_SECONDS = 0.002


def index_key(scope: str) -> str:
    return f"s:{scope}"


def version_key(scope: str) -> str:
    return f"s:{scope}:version"


@dataclass(frozen=True)
class VectorIndex:
    keys: np.ndarray  # S64, one exact key per row
    expires: np.ndarray  # float64 Unix seconds
    vectors: np.ndarray  # float32, count x dim

    @classmethod
    def empty(cls, dim: int) -> "VectorIndex":
        return cls(np.empty(0, f"S{KEY_BYTES}"), np.empty(0, "<f8"), np.empty((0, dim), "<f4"))

    @classmethod
    def decode(cls, raw: bytes) -> "VectorIndex":
        count, dim = (int(n) for n in np.frombuffer(raw, _HEADER, 2))
        offset = 2 * _HEADER.itemsize
        keys = np.frombuffer(raw, f"S{KEY_BYTES}", count, offset)
        offset += count * KEY_BYTES
        expires = np.frombuffer(raw, "<f8", count, offset)
        offset += count * 8
        vectors = np.frombuffer(raw, "<f4", count * dim, offset).reshape(count, dim)
        return cls(keys, expires, vectors)

    def encode(self) -> bytes:
        header = np.array([len(self.keys), self.vectors.shape[1]], _HEADER).tobytes()
        return header + self.keys.tobytes() + self.expires.astype("<f8").tobytes() + self.vectors.astype("<f4").tobytes()

    def __len__(self) -> int:
        return len(self.keys)

    def live(self, now: float) -> "VectorIndex":
        keep = self.expires > now
        return self if keep.all() else VectorIndex(self.keys[keep], self.expires[keep], self.vectors[keep])

    def without(self, key: str) -> "VectorIndex":
        keep = self.keys != key.encode()
        return VectorIndex(self.keys[keep], self.expires[keep], self.vectors[keep])

    def with_entry(self, key: str, vector: np.ndarray, expires: float) -> "VectorIndex":
        rest = self.without(key)
        return VectorIndex(
            np.append(rest.keys, np.array([key.encode()], f"S{KEY_BYTES}")),
            np.append(rest.expires, expires),
            np.vstack([rest.vectors, np.asarray(vector, "<f4").reshape(1, -1)]),
        )

    def __contains__(self, key: str) -> bool:
        return bool((self.keys == key.encode()).any())


async def _pause(attempt: int) -> None:
    if attempt:
        await asyncio.sleep(random.uniform(0, attempt * RETRY_PAUSE_SECONDS))


async def _read(values: Values, scope: str) -> tuple[object, VectorIndex | None]:
    version = await values.get(version_key(scope))
    raw = await values.get(index_key(scope))
    return version, VectorIndex.decode(raw) if isinstance(raw, bytes) else None


async def _replace(values: Values, scope: str, version: object, index: VectorIndex, now: float) -> bool:
    after = (version if isinstance(version, int) else 0) + 1
    if len(index) == 0:
        return await values.atomic([CompareAndSet(version_key(scope), version, after, ttl=1), Delete(index_key(scope))])
    # The index lives as long as its longest-lived entry.
    ttl = max(0.001, float(index.expires.max()) - now)
    return await values.atomic(
        [CompareAndSet(version_key(scope), version, after, ttl=ttl), Set(index_key(scope), index.encode(), ttl=ttl)]
    )


async def add_vector(values: Values, scope: str, key: str, vector: np.ndarray, ttl: float, limit: int) -> bool:
    """Index ``vector`` under ``key`` unless the scope holds ``limit`` live vectors already;
    True when indexed."""
    if len(key) != KEY_BYTES or not key.isascii():
        raise ValueError(f"an index key is a 64-character SHA-256 hex digest, not {key!r:.80}")
    for attempt in range(WRITE_ATTEMPTS):
        await _pause(attempt)
        now = time.time()
        version, index = await _read(values, scope)
        index = (index or VectorIndex.empty(len(vector))).live(now)
        if key not in index and len(index) >= limit:
            return False
        if await _replace(values, scope, version, index.with_entry(key, vector, now + ttl), now):
            return True
    return False


async def forget_vector(values: Values, scope: str, key: str) -> None:
    """Drop ``key``'s vector (its answer expired) and every other expired one."""
    for attempt in range(WRITE_ATTEMPTS):
        await _pause(attempt)
        now = time.time()
        version, index = await _read(values, scope)
        if index is None:
            return
        if await _replace(values, scope, version, index.live(now).without(key), now):
            return


async def nearest(values: Values, scope: str, vector: np.ndarray, threshold: float, count: int) -> list[tuple[str, float]]:
    """Up to ``count`` (key, cosine similarity) at or above ``threshold``, best first: one read."""
    raw = await values.get(index_key(scope))
    if not isinstance(raw, bytes):
        return []
    index = VectorIndex.decode(raw)
    rows = best_rows(index.vectors, vector, threshold, count, live=index.expires > time.time())
    return [(index.keys[row].decode(), score) for row, score in rows]
