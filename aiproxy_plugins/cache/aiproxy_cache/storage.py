"""Where answers are kept: the cache's values of each tenant in the core's state API.

Embedded, that is the gateway's SQLite state file (answers survive a restart); with Redis, every
gateway process on the same Redis serves the same answers. Keys, per tenant (the state API's
scope: no call can reach another tenant's keys, and deleting a tenant drops them all):

* ``e:<exact key>``: the answer as JSON data, with the entry's TTL (the backend expires it);
* ``s:<scope>`` and ``s:<scope>:version``: the scope's semantic index (:mod:`.vector_index`).
"""

from __future__ import annotations

import numpy as np

from aiproxy_core.state import PluginState, Values

from . import vector_index
from .entries import CachedAnswer
from .scope_locks import ScopeLocks

__all__ = ["CacheStore"]


def _entry(key: str) -> str:
    return f"e:{key}"


class CacheStore:
    """Answers by exact key and, per semantic scope, an index of their prompts' vectors. A
    vector's id is its answer's exact key, so a search result is read with :meth:`get`."""

    def __init__(self, state: PluginState) -> None:
        self._state = state
        self._writers = ScopeLocks()

    def values(self, tenant: str) -> Values:
        return self._state.values(tenant)

    async def get(self, tenant: str, key: str) -> CachedAnswer | None:
        return CachedAnswer.from_value(await self.values(tenant).get(_entry(key)))

    async def put(self, tenant: str, key: str, answer: CachedAnswer, ttl: int) -> None:
        await self.values(tenant).set(_entry(key), answer.to_value(), ttl=ttl)

    async def add_vector(self, tenant: str, scope: str, key: str, vector: np.ndarray, ttl: int, limit: int) -> bool:
        async with self._writers.hold((tenant, scope)):
            return await vector_index.add_vector(self.values(tenant), scope, key, vector, ttl, limit)

    async def nearest(self, tenant: str, scope: str, vector: np.ndarray, threshold: float, count: int) -> list[tuple[str, float]]:
        return await vector_index.nearest(self.values(tenant), scope, vector, threshold, count)

    async def forget_vector(self, tenant: str, scope: str, key: str) -> None:
        async with self._writers.hold((tenant, scope)):
            await vector_index.forget_vector(self.values(tenant), scope, key)

    async def count(self, tenant: str) -> int:
        """How many answers the tenant has cached now (a listing: for tests and admin, not requests;
        counts up to 100,000)."""
        return len(await self.values(tenant).keys("e:", limit=100_000))
