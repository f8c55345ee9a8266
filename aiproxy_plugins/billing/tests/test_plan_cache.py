"""The request path's plan cache sees this process's own plan changes at once, even when a read
of the plan was in flight across the change (it must not keep what that read found for a second)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator

import pytest

from aiproxy_billing.plan_cache import CachedPlans
from aiproxy_billing.plan_store import StatePlanStore
from aiproxy_billing.plans import PLAN_SPEC, Plan
from aiproxy_core.state import StateService


class PausedReads(StatePlanStore):
    """The real plan store; a read can be held after it has read, until the test lets it go."""

    hold: asyncio.Event | None = None
    read: asyncio.Event | None = None

    async def get(self, tenant_id: str, plan_id: str) -> Plan | None:
        plan = await super().get(tenant_id, plan_id)
        hold, self.hold = self.hold, None
        if hold is not None:
            assert self.read is not None
            self.read.set()
            await hold.wait()
        return plan


def priced(price: str) -> Plan:
    now = datetime.now(timezone.utc)
    spec = PLAN_SPEC.validate_python({"name": "pro", "type": "pay_per_call", "price_per_request": price})
    return Plan(id="plan_0123456789abcdef", tenant_id="tnt_a", created_at=now, updated_at=now, spec=spec)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[PausedReads]:
    service = StateService(tmp_path)
    service.open()
    try:
        yield PausedReads(service.for_plugin("billing"))
    finally:
        service.close()


async def test_a_change_made_while_a_read_was_in_flight_is_seen_at_once(store: PausedReads) -> None:
    plans = CachedPlans(store, ttl=60.0)  # a long ttl: only the cache's own forgetting can show the change
    await plans.put(priced("0.001"))
    store.hold, store.read = asyncio.Event(), asyncio.Event()
    hold = store.hold
    reading = asyncio.ensure_future(plans.current("tnt_a", "plan_0123456789abcdef"))
    await store.read.wait()  # the read has the old price and waits

    await plans.put(priced("0.002"))
    hold.set()
    assert (await reading).spec.price_per_request == priced("0.001").spec.price_per_request  # what it read

    now = await plans.current("tnt_a", "plan_0123456789abcdef")
    assert now is not None and now.spec.price_per_request == priced("0.002").spec.price_per_request


async def test_a_read_with_no_change_meanwhile_is_kept(store: PausedReads) -> None:
    plans = CachedPlans(store, ttl=60.0)
    await plans.put(priced("0.001"))
    assert await plans.current("tnt_a", "plan_0123456789abcdef") is not None
    assert plans.fresh("tnt_a", "plan_0123456789abcdef") is not None  # the request path's hit, no store call
