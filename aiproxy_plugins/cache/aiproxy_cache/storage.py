"""What the plugin needs from a place to keep answers: Redis (shared) or memory (embedded)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["CacheStore"]


class CacheStore(Protocol):
    """Answers by exact key, and per semantic scope an index of their prompts' vectors.

    Everything is namespaced by tenant: no call can reach another tenant's keys. A vector's id is
    its answer's exact key, so a search result is looked up with :meth:`get`.
    """

    async def get(self, tenant: str, key: str) -> bytes | None: ...

    async def put(self, tenant: str, key: str, value: bytes, ttl: int) -> None: ...

    async def add_vector(self, tenant: str, scope: str, key: str, vector: np.ndarray, ttl: int, limit: int) -> None:
        """Index ``vector`` under ``key`` unless the scope holds ``limit`` vectors already."""

    async def nearest(self, tenant: str, scope: str, vector: np.ndarray, threshold: float, count: int) -> list[tuple[str, float]]:
        """Up to ``count`` (key, cosine similarity) at or above ``threshold``, best first."""

    async def forget_vector(self, tenant: str, scope: str, key: str) -> None:
        """Drop a vector whose answer expired."""

    async def count(self, tenant: str) -> int:
        """How many answers the tenant has cached now."""

    async def drop_tenant(self, tenant: str) -> None:
        """Remove every answer and vector of the tenant (it was deleted)."""

    async def close(self) -> None: ...
