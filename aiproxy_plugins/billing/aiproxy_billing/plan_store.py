"""Plans as values of the core's state API: ``plan:<plan id>`` in the tenant's billing values."""

from __future__ import annotations

from typing import Protocol

from aiproxy_core.state import PluginState

from .plans import Plan

__all__ = ["PlanStore", "StatePlanStore"]

PREFIX = "plan:"


class PlanStore(Protocol):
    async def put(self, plan: Plan) -> None: ...
    async def get(self, tenant_id: str, plan_id: str) -> Plan | None: ...
    async def list(self, tenant_id: str) -> list[Plan]: ...
    async def delete(self, tenant_id: str, plan_id: str) -> bool: ...


class StatePlanStore:
    def __init__(self, state: PluginState) -> None:
        self._state = state

    async def put(self, plan: Plan) -> None:
        await self._state.values(plan.tenant_id).set(PREFIX + plan.id, plan.model_dump(mode="json"))

    async def get(self, tenant_id: str, plan_id: str) -> Plan | None:
        if not _possible(plan_id):
            return None
        doc = await self._state.values(tenant_id).get(PREFIX + plan_id)
        return Plan.model_validate(doc) if doc is not None else None

    async def list(self, tenant_id: str) -> list[Plan]:
        values = self._state.values(tenant_id)
        plans = []
        for key in await values.keys(PREFIX, limit=10_000):
            doc = await values.get(key)
            if doc is not None:
                plans.append(Plan.model_validate(doc))
        return sorted(plans, key=lambda plan: (plan.created_at, plan.id))

    async def delete(self, tenant_id: str, plan_id: str) -> bool:
        if not _possible(plan_id):
            return False
        return await self._state.values(tenant_id).delete(PREFIX + plan_id)


#: Longer than any plan id the gateway makes (``plan_`` and 16 hex digits), short of the state
#: API's key limit.
MAX_PLAN_ID = 200


def _possible(plan_id: str) -> bool:
    """Whether ``plan_id`` (a path segment: anything a caller typed) could name a stored plan. One
    that could not (a NUL, thousands of characters) names none: 404, not the state API's
    ValueError for a key it cannot hold (found by the Admin API fuzzer as a 500)."""
    return "\x00" not in plan_id and len(plan_id) <= MAX_PLAN_ID
