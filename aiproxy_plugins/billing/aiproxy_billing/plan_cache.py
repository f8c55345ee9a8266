"""Plans as the request path reads them: from the store at most once a second per plan and process.

Every billed request needs its consumer's plan; reading it from the store each time cost a Redis
round trip (or a SQLite read in a thread) plus validating the plan's JSON. :class:`CachedPlans`
keeps each plan for ``ttl`` seconds for :meth:`CachedPlans.current`, the request path's reader;
``put`` and ``delete`` through it forget the entry at once, so this process sees its own changes
immediately and every other process within ``ttl`` (documented: a plan change reaches requests on
every gateway within 1 s). Reports and invoices use ``get``, which always reads the store.
"""

from __future__ import annotations

import time
from typing import Callable

from aiproxy_core import SingleFlight

from .plan_store import PlanStore
from .plans import Plan

__all__ = ["CachedPlans"]

#: Cached plans per process at most; past it the cache starts over (a burst of reads, no error).
MAX_ENTRIES = 10_000


class CachedPlans:
    def __init__(self, store: PlanStore, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Plan | None]] = {}
        #: Forgotten by every put and delete through this cache: a load in flight across one may
        #: have read the plan before the change, so what it read is returned but not kept.
        self._loads: SingleFlight[tuple[str, str], Plan | None] = SingleFlight()

    def fresh(self, tenant_id: str, plan_id: str) -> tuple[Plan | None] | None:
        """``(plan,)`` when the cache holds it from less than ``ttl`` seconds ago, else None
        (then ``await current(...)``): the request path's hit, without a coroutine."""
        cached = self._entries.get((tenant_id, plan_id))
        if cached is not None and cached[0] > self._clock():
            return (cached[1],)
        return None

    async def current(self, tenant_id: str, plan_id: str) -> Plan | None:
        """The plan as of at most ``ttl`` seconds ago (None: no such plan)."""
        cached = self.fresh(tenant_id, plan_id)
        if cached is not None:
            return cached[0]
        key = (tenant_id, plan_id)
        plan, current = await self._loads.load_current(key, lambda: self._store.get(tenant_id, plan_id))
        if not current:
            return plan
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (self._clock() + self._ttl, plan)
        return plan

    # The PlanStore protocol, for the Admin API and reports: always the store's own answer.

    async def get(self, tenant_id: str, plan_id: str) -> Plan | None:
        return await self._store.get(tenant_id, plan_id)

    async def list(self, tenant_id: str) -> list[Plan]:
        return await self._store.list(tenant_id)

    async def put(self, plan: Plan) -> None:
        await self._store.put(plan)
        self._forget(plan.tenant_id, plan.id)

    async def delete(self, tenant_id: str, plan_id: str) -> bool:
        deleted = await self._store.delete(tenant_id, plan_id)
        self._forget(tenant_id, plan_id)
        return deleted

    def _forget(self, tenant_id: str, plan_id: str) -> None:
        self._entries.pop((tenant_id, plan_id), None)
        self._loads.forget()  # a load already running may have read the old plan
