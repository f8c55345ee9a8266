"""``ctx.state`` keys that plugins share by contract, so cooperating plugins need not import each other.

* :data:`PLAN_RATE_LIMITS`: ``(plan_id, ((limit, window), ...))``, the limits of the consumer's
  plan, set in ``pre_request`` by the plugin that knows plans (``billing``) for the rate limiter
  later in the chain to count.
* :data:`PLAN_RATE_LIMITS_READ`: set by the rate limiter once it has looked, so a provider that
  runs after it can warn that its limits came too late.

``ctx.annotations`` keys the core sets for metering plugins:

* :data:`INTERRUPTED`: the answer did not reach the client whole. ``"upstream"``: the upstream
  broke off, timed out or a chunk hook failed after the response had started (the client got an
  ``upstream_stream_interrupted`` error event, or a dropped connection); ``"client"``: the client
  left first. Absent when the answer was sent whole.
* :data:`TTFT_MS`: for a streamed answer, milliseconds from the request's arrival to its first
  byte sent to the client (time to first token, as the client saw it). Absent for plain answers.
* ``"target"``, ``"cost"``: the routed target's name or index, and the upstream's cost in USD
  (docs/routing.md).
* :data:`UPSTREAM_MS`: milliseconds from the start of the accepted upstream attempt to its answer
  (its head; the whole body when a small plain one was read at once). Absent when no upstream answered.
* :data:`USAGE`: ``{"input_tokens": int, "output_tokens": int}`` from the answer's usage (a plain
  answer's body, or a stream's final usage event once it passed). Absent when it reported none.
"""

from __future__ import annotations

__all__ = ["INTERRUPTED", "PLAN_RATE_LIMITS", "PLAN_RATE_LIMITS_READ", "TTFT_MS", "UPSTREAM_MS", "USAGE"]

INTERRUPTED = "interrupted"
TTFT_MS = "ttft_ms"
UPSTREAM_MS = "upstream_ms"
USAGE = "usage"

PLAN_RATE_LIMITS = "plan_rate_limits"
PLAN_RATE_LIMITS_READ = "plan_rate_limits_read"
