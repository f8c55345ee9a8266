"""Which plan a consumer is on, from whatever the core offers at the time.

The core gives ``ctx.consumer`` (with ``plan_id``) and ``store.get_consumer``; both are looked up
defensively (``getattr``) so the plugin also runs on a core from before consumers, and the chain
entry's ``plan_id`` setting is the fallback (see :mod:`.plugin`).
"""

from __future__ import annotations

from typing import Any

from aiproxy_core import GatewayServices, RequestContext

__all__ = ["consumer_plan_id", "known_plan_id"]


def _plan_of(consumer: Any) -> str | None:
    plan_id = getattr(consumer, "plan_id", None)
    if plan_id is None and isinstance(consumer, dict):
        plan_id = consumer.get("plan_id")
    return plan_id if isinstance(plan_id, str) and plan_id else None


async def consumer_plan_id(services: GatewayServices | None, tenant_id: str, consumer_id: str | None) -> str | None:
    if services is None or consumer_id is None:
        return None
    get_consumer = getattr(services.store, "get_consumer", None)
    if get_consumer is None:
        return None
    return _plan_of(await get_consumer(tenant_id, consumer_id))


def known_plan_id(ctx: RequestContext) -> str | None:
    """The plan of the request's consumer as the request already carries it (``ctx.consumer``):
    the usual case, answered without a coroutine; else ``await consumer_plan_id(...)`` asks the
    store."""
    return _plan_of(getattr(ctx, "consumer", None))
