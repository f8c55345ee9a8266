"""``ctx.state`` keys that plugins share by contract, so cooperating plugins need not import each other.

* :data:`PLAN_RATE_LIMITS`: ``(plan_id, ((limit, window), ...))``, the limits of the consumer's
  plan, set in ``pre_request`` by the plugin that knows plans (``billing``) for the rate limiter
  later in the chain to count.
* :data:`PLAN_RATE_LIMITS_READ`: set by the rate limiter once it has looked, so a provider that
  runs after it can warn that its limits came too late.
"""

from __future__ import annotations

__all__ = ["PLAN_RATE_LIMITS", "PLAN_RATE_LIMITS_READ"]

PLAN_RATE_LIMITS = "plan_rate_limits"
PLAN_RATE_LIMITS_READ = "plan_rate_limits_read"
