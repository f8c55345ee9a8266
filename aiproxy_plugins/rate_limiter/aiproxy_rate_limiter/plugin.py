"""The ``rate_limiter`` plugin: count and label in ``pre_request``, settle in ``post_response``.

* ``pre_request``: one counter call admits the request in every limit of the entry or refuses it
  (429 with ``Retry-After``); with ``cost: tokens`` it reserves an estimate. The rate-limit
  headers go into ``ctx.response_headers``, so every response carries them (the upstream's, an
  early answer or an error) even when the entry is narrowed to ``stage: pre_request``.
* ``response_chunk``: with ``cost: tokens``, notes the usage a streamed answer reports at its end.
* ``post_response``: with ``cost: tokens``, replaces the estimate by the real usage, or refunds it
  when the request got no successful answer.

Counting goes through the core's state API (``services.state("rate_limiter").counters(tenant)``):
Redis (over the process's script connection, one write per event-loop turn for every plugin) or
the embedded SQLite state file. The entry point names the :class:`RateLimiter` class; the gateway
makes one instance per process. It keeps the state namespace of its gateway's ``startup``, which
is why several gateways in one process (tests) each need their own ``RateLimiter()``.
"""

from __future__ import annotations

import math
from typing import Any

from aiproxy_core import BadRequest, EntryRef, GatewayServices, RateLimited, RequestContext, ServiceUnavailable, hookimpl, openai_shapes
from aiproxy_core.state import CounterVerdict, PluginState

from .counting import CounterUnavailable, acquire, seconds_up, settle
from .openapi import RATE_LIMIT_OPENAPI
from .headers import UNAVAILABLE_HEADER, PolicyStatus, limit_headers
from .keys import counter_slots, subject_of
from .outage import Outage
from .plan_limits import plan_policies
from .policies import Policy
from .settings import RateLimiterSettings
from .state import EntryState, entry_states
from .tokens import estimate_tokens, total_tokens

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self) -> None:
        self._state: PluginState | None = None
        self.outage = Outage()

    # -- registration ----------------------------------------------------------------------------

    @hookimpl
    def settings_model(self) -> type[RateLimiterSettings]:
        return RateLimiterSettings

    @hookimpl
    def startup(self, services: GatewayServices) -> None:
        self._state = services.state("rate_limiter")

    @hookimpl
    def shutdown(self, services: GatewayServices) -> None:
        self._state = None  # the state service is the gateway's: it closes it

    @hookimpl
    def tenant_openapi(self) -> dict[str, Any]:
        return RATE_LIMIT_OPENAPI

    # -- stages ----------------------------------------------------------------------------------

    @hookimpl
    async def pre_request(self, ctx: RequestContext, settings: RateLimiterSettings, entry: EntryRef) -> None:
        subject = subject_of(settings.key, ctx)
        scope = ctx.rule.id if settings.per_endpoint else "*"
        own, slots = settings.counting(ctx.tenant.tier, scope, subject)
        of_plan = plan_policies(ctx.state) if settings.plan_limits else ()
        policies = own + of_plan if of_plan else own
        if not policies:
            return None  # e.g. only plans are set, and none for this tenant's tier
        if of_plan:  # per consumer across the tenant's rules, in counters apart from the entry's
            consumer = subject_of("consumer", ctx)
            slots += counter_slots(of_plan, cost=settings.cost, scope="plan", subject=consumer)
        state = EntryState(slots)
        entry_states(ctx.state)[entry.index] = state
        cost = _cost(ctx, settings)
        counters = self._started().counters(ctx.tenant.id)
        try:
            verdicts = await acquire(counters, self.outage, slots, cost, settings.algorithm, settings.redis_timeout)
        except CounterUnavailable:
            if settings.on_error == "open":
                state.unavailable = True
                _label(ctx)
                return None
            raise ServiceUnavailable(
                "rate limiting is unavailable (the gateway cannot reach its Redis), so the request was refused; "
                "try again shortly",
                code="plugin_unavailable",
                headers={"Retry-After": "1"},
                details=[{"plugin": "rate_limiter", "hook": "pre_request"}],
            ) from None
        if verdicts[0].allowed:
            state.charged = tuple(min(cost, slot.limit) for slot in slots)
            state.statuses = _statuses(policies, verdicts)
            _label(ctx)
            return None
        retry_after = max(1, seconds_up(max(v.retry_after for v in verdicts)))
        state.retry_after = retry_after
        state.statuses = _statuses(policies, verdicts, retry_after)
        refusing = next(p for p, s in zip(policies, state.statuses) if s.refusing)
        _label(ctx)
        unit = " tokens" if settings.cost == "tokens" else ""
        raise RateLimited(
            f"rate limit of {refusing.limit}{unit} per {refusing.window} exceeded; retry in {retry_after} s",
            headers={**limit_headers(state.statuses), "Retry-After": str(retry_after)},
        )

    @hookimpl
    def response_chunk(self, ctx: RequestContext, settings: RateLimiterSettings, chunk: bytes, entry: EntryRef) -> None:
        if settings.cost != "tokens":
            return None
        state = entry_states(ctx.state).get(entry.index)
        if state is not None and state.charged:
            usage = total_tokens(openai_shapes.usage_in_events(chunk))
            if usage is not None:
                state.streamed_usage = usage
        return None

    @hookimpl
    async def post_response(self, ctx: RequestContext, settings: RateLimiterSettings, entry: EntryRef) -> None:
        if settings.cost != "tokens":
            return None
        state = entry_states(ctx.state).get(entry.index)
        if state is None or not state.charged or state.settled:
            return None
        state.settled = True
        actual = _used_tokens(ctx, state)
        if actual is None or all(charged == actual for charged in state.charged):
            return None
        if self._state is None:
            return None  # the gateway is stopping; its counters go with it
        counters = self._state.counters(ctx.tenant.id)
        try:
            await settle(counters, self.outage, state.slots, state.charged, actual, settings.algorithm, settings.redis_timeout)
        except CounterUnavailable:
            pass  # the outage is logged (Outage); the estimate stands

    def _started(self) -> PluginState:
        if self._state is None:
            raise RuntimeError("the rate_limiter plugin has no state: the gateway did not call its startup hook")
        return self._state


def _label(ctx: RequestContext) -> None:
    """Write the headers of every limiter entry that ran so far into ``ctx.response_headers``.

    All entries write the same headers from all of their states, so two entries (a tenant's
    required one and a rule's own) do not overwrite each other.
    """
    by_entry = entry_states(ctx.state)
    if len(by_entry) == 1:  # one limiter entry (the usual chain): no lists or generators to build
        (only,) = by_entry.values()
        statuses, retry_after, unavailable = only.statuses, only.retry_after, only.unavailable
    else:
        states = by_entry.values()
        statuses = tuple(status for state in states for status in state.statuses)
        retry_after = max((s.retry_after for s in states if s.retry_after is not None), default=None)
        unavailable = any(state.unavailable for state in states)
    headers = ctx.response_headers
    headers.update(limit_headers(statuses))
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if unavailable:
        headers[UNAVAILABLE_HEADER[0]] = UNAVAILABLE_HEADER[1]


def _cost(ctx: RequestContext, settings: RateLimiterSettings) -> int:
    if settings.cost == "requests":
        return 1
    try:
        body: Any = ctx.request.json
    except BadRequest:
        body = None  # not JSON: the upstream will say so; reserve by size meanwhile
    return estimate_tokens(body, len(ctx.request.body), settings.default_max_tokens)


def _statuses(
    policies: tuple[Policy, ...], verdicts: list[CounterVerdict], retry_after: int | None = None
) -> tuple[PolicyStatus, ...]:
    """A refused step marks the counters that lacked room with ``retry_after > 0``; their reset
    is the request's ``Retry-After``. ``remaining`` is rounded down: a sliding window's count is
    an estimate with a fraction, and only whole requests fit."""
    statuses = []
    for policy, verdict in zip(policies, verdicts):
        refusing = not verdict.allowed and verdict.retry_after > 0
        reset = retry_after if refusing and retry_after is not None else seconds_up(verdict.reset_after)
        remaining = max(0, math.floor(verdict.remaining + 1e-9))
        statuses.append(PolicyStatus(policy.name, policy.limit, policy.seconds, remaining, reset, refusing))
    return tuple(statuses)


def _used_tokens(ctx: RequestContext, state: EntryState) -> int | None:
    """Tokens the request really used; 0 when it got no successful answer; None if unknown."""
    response = ctx.response
    if response is None or response.status >= 400:
        return 0  # refused later in the chain, or failed upstream: nothing was generated
    if response.body is None:
        return state.streamed_usage
    try:
        body = response.json  # parsed once per response, for every hook that reads it
    except ValueError:
        return None
    return total_tokens(openai_shapes.usage_in_body(body))
