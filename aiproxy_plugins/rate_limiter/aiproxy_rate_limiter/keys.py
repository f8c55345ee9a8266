"""Who a request is counted for, and the name of each counter.

A counter's name is what ``limits`` would call the key of the item
(``LIMITER/<cost>/<scope>/<subject>/<limit>/<n>/<unit>``), in the tenant's counters of the state
API (``counters(tenant_id)``): tenants never share a counter, and on Redis every counter of a
tenant sits in its ``{tenant}`` hash slot, so one script counts a request in all of them.
"""

from __future__ import annotations

import hashlib

from aiproxy_core import RequestContext

from .counting import Slot
from .policies import Policy

__all__ = ["counter_name", "counter_slots", "subject_of"]

#: Header values longer than this are hashed, so a client cannot make huge Redis keys.
_LONGEST_RAW_VALUE = 64


def _consumer(ctx: RequestContext) -> str:
    # Until consumers exist every key is its own consumer; a consumer's keys share its counter.
    consumer_id = ctx.consumer_id
    return f"consumer:{consumer_id}" if consumer_id else f"key:{ctx.api_key.id}"


def subject_of(key: str, ctx: RequestContext) -> str:
    """The subject named by the ``key`` setting: ``consumer``, ``tenant``, ``ip`` or ``header:<name>``."""
    if key == "consumer":
        return _consumer(ctx)
    if key == "tenant":
        return "tenant"
    if key == "ip":
        return f"ip:{ctx.request.client_ip or '-'}"
    name = key.removeprefix("header:")
    value = ctx.request.headers.get(name)
    if value is None:
        # Leaving the header out must not escape the limit: such requests count per consumer.
        return _consumer(ctx)
    if len(value) > _LONGEST_RAW_VALUE or not value.isprintable():
        value = "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()
    return f"header:{name.lower()}:{value}"


def counter_name(policy: Policy, *, cost: str, scope: str, subject: str) -> str:
    """``scope`` is the rule id with ``per_endpoint``, else ``*`` (one counter across the tenant's rules)."""
    return policy.item.key_for(cost, scope, subject)


def counter_slots(policies: tuple[Policy, ...], *, cost: str, scope: str, subject: str) -> tuple[Slot, ...]:
    """One counter per policy, for ``subject`` in ``scope``."""
    return tuple(Slot(counter_name(policy, cost=cost, scope=scope, subject=subject), policy.limit, policy.seconds) for policy in policies)
