"""Limits set by the consumer's plan, handed over by the plugin that knows plans (``billing``).

The hand-over is the ``ctx.state`` contract of :mod:`aiproxy_core.state_keys`: a plugin earlier in
the chain puts the plan's limits under ``PLAN_RATE_LIMITS``; the limiter marks
``PLAN_RATE_LIMITS_READ`` once it has looked, so a provider running after it can warn.

Plan limits count per consumer (a tenant's own key: per key) across all the tenant's rules, in
counters of their own, whatever the entry's ``key`` and ``per_endpoint`` say.
"""

from __future__ import annotations

import logging
from typing import Any

from aiproxy_core.state_keys import PLAN_RATE_LIMITS, PLAN_RATE_LIMITS_READ

from .policies import Policy, build_policies

__all__ = ["plan_policies"]

logger = logging.getLogger("aiproxy.rate_limiter")

#: Policies per (plan id, limits): built once, shared by every request on that plan.
_built: dict[tuple[str, tuple[tuple[int, str], ...]], tuple[Policy, ...]] = {}


def plan_policies(ctx_state: dict[str, Any]) -> tuple[Policy, ...]:
    """The policies of the plan an earlier plugin handed over (none: empty)."""
    ctx_state[PLAN_RATE_LIMITS_READ] = True
    given = ctx_state.get(PLAN_RATE_LIMITS)
    if not given:
        return ()
    plan_id, limits = given
    key = (str(plan_id), tuple((int(limit), str(window)) for limit, window in limits))
    found = _built.get(key)
    if found is None:
        try:
            found = build_policies(
                (f"plan.{plan_id}" if i == 0 else f"plan.{plan_id}.{i}", limit, window) for i, (limit, window) in enumerate(key[1])
            )
        except ValueError as exc:  # a provider's bad window: its limits cannot count, say so
            logger.error("plan %s: rate limits %r not applied: %s", plan_id, limits, exc)
            found = ()
        if len(_built) >= 10_000:
            _built.clear()
        _built[key] = found
    return found
