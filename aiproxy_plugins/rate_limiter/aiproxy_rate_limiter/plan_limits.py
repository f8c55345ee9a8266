"""Limits set by the consumer's plan, handed over by the plugin that knows plans (``billing``).

The contract is two ``ctx.state`` keys, so neither plugin imports the other:

* :data:`PLAN_RATE_LIMITS`: ``(plan_id, ((limit, window), ...))``, set in ``pre_request`` by a
  plugin that runs **before** the rate limiter (billing does, for plans with ``rate_limits``);
* :data:`PLAN_RATE_LIMITS_READ`: set by the rate limiter when it has looked, so a provider that
  runs after it can warn that its limits came too late.

Plan limits count per consumer (a tenant's own key: per key) across all the tenant's rules, in
counters of their own, whatever the entry's ``key`` and ``per_endpoint`` say.
"""

from __future__ import annotations

import logging
from typing import Any

from .policies import Policy, build_policies

__all__ = ["PLAN_RATE_LIMITS", "PLAN_RATE_LIMITS_READ", "plan_policies"]

logger = logging.getLogger("aiproxy.rate_limiter")

PLAN_RATE_LIMITS = "plan_rate_limits"
PLAN_RATE_LIMITS_READ = "plan_rate_limits_read"

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
