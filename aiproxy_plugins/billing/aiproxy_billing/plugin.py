"""The ``billing`` plugin: quotas in ``pre_request``, usage from the answer, one event per billable request.

* ``pre_request``: find the consumer's plan; on a free plan, count the request against its quota
  (429 with ``Retry-After``, or 402, when used up); for ``stream: true`` ask the upstream to end
  the stream with a usage chunk.
* ``pre_request`` with ``prepaid``: reserve ``reserve`` from the consumer's credits (402
  ``insufficient_credits`` when the balance is lower). Quotas and credits are counters and
  balances of the core's state API (``services.state("billing")``, see :mod:`.quota`, :mod:`.credits`).
* ``response_chunk``: note the usage chunk (and drop it if only we asked for it).
* ``post_response``: settle a prepaid reservation once (refund it, charge the real price, never
  below zero); queue one :class:`~aiproxy_billing.events.BillingEvent` for a billable
  request (an answer below 400). The queue is a Redis Stream or a SQLite outbox; the worker
  started in ``startup`` (or ``aiproxy billing-worker``) writes the ledger; an exporter task beside
  it delivers exporting tenants' events to their webhooks (see :mod:`.export`).

The entry point names the :class:`Billing` class; the gateway makes one instance per process.
Several gateways in one process (tests) each need their own ``Billing()``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from decimal import Decimal
from typing import Any

from starlette.routing import BaseRoute

from aiproxy_core import BadRequest, GatewayError, GatewayServices, MetricReading, PaymentRequired, RateLimited, RequestContext, Tenant, hookimpl, openai_shapes
from aiproxy_core.openai_shapes import TokenUsage
from aiproxy_core.state_keys import INTERRUPTED, PLAN_RATE_LIMITS, PLAN_RATE_LIMITS_READ

from .admin_routes import billing_routes
from .openapi import billing_admin_openapi, billing_tenant_openapi
from .backend import BillingBackend, open_backend
from .cli import add_report_commands, add_worker_command
from .consumer_plans import consumer_plan_id, known_plan_id
from .credits import PrepaidCredits, from_micros, to_micros
from .events import BillingEvent, billing_subject
from .export import Exporter
from .money import money_text
from .portal_routes import billing_portal_routes
from .plans import FreePlan, PayPerCallPlan, PlanRateLimit, PlanSpec, UsagePlan
from .pricing import PeriodUsage, price_period
from .quota import FreePlanQuota, seconds_to_period_end
from .request_state import billing_state
from .settings import BillingConfig, BillingSettings
from .usage_events import without_usage_events
from .worker import run_worker

__all__ = ["Billing"]

logger = logging.getLogger("aiproxy.billing")

#: How long shutdown waits for the worker's last drain.
FINAL_DRAIN_SECONDS = 5.0


class Billing:
    def __init__(self, *, run_worker: bool | None = None, export_min_backoff: float = 0.5, export_max_backoff: float = 60.0,
                 export_poll: float = 0.5) -> None:
        #: False leaves the queue (and the export queue) to ``aiproxy billing-worker`` processes;
        #: None (the entry point's instance) takes ``plugins.billing.run_worker`` from config.yaml.
        self.run_worker = run_worker
        #: Webhook export retries: from ``export_min_backoff`` s doubling to ``export_max_backoff`` s (jittered).
        self._export_options = {"min_backoff": export_min_backoff, "max_backoff": export_max_backoff, "poll": export_poll}
        self._backend: BillingBackend | None = None
        self._credits: PrepaidCredits | None = None
        self._quota: FreePlanQuota | None = None
        self._stop: asyncio.Event | None = None
        self._worker: asyncio.Task[int] | None = None
        self._exporter_task: asyncio.Task[None] | None = None
        self.exporter: Exporter | None = None

    # -- registration ----------------------------------------------------------------------------

    @hookimpl
    def settings_model(self) -> type[BillingSettings]:
        return BillingSettings

    @hookimpl
    def config_model(self) -> type[BillingConfig]:
        return BillingConfig

    @hookimpl
    def startup(self, services: GatewayServices, config: BillingConfig | None) -> None:
        config = config or BillingConfig()
        state = services.state("billing")
        self._backend = open_backend(state, remember=config.dedupe_seconds)
        self._credits, self._quota = PrepaidCredits(state), FreePlanQuota(state)
        run_here = self.run_worker if self.run_worker is not None else config.run_worker
        if not run_here:
            logger.info(
                "billing: events are queued here and moved to the ledger by `aiproxy billing-worker` processes"
                " (plugins.billing.run_worker is false); without one they wait in the queue"
            )
        else:
            self._stop = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(run_worker(self._backend.drain(claim_idle=config.claim_idle), self._stop))
            self.exporter = Exporter(self._backend.exports, **self._export_options)
            self._exporter_task = asyncio.get_running_loop().create_task(self.exporter.run(self._stop))

    @hookimpl
    async def shutdown(self, services: GatewayServices) -> None:
        backend, self._backend = self._backend, None
        self._credits = self._quota = None
        if self._stop is not None:
            self._stop.set()
        if self._exporter_task is not None:
            # Entries in flight stay queued (leased) and are delivered after the next start.
            self._exporter_task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._exporter_task
            self._exporter_task = None
        if self._worker is not None and self._stop is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._worker, FINAL_DRAIN_SECONDS)
            self._worker = None
            if backend is not None:
                # The post_response hooks have finished: move their events now rather than
                # leaving them for the next start (a worker elsewhere would also take them).
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(run_worker(backend.drain(), asyncio.Event(), once=True), FINAL_DRAIN_SECONDS)

    # No tenant_deleted hook: plans, the export target, aggregates, invoices, quotas and credits
    # are all state-API values and counters, which the gateway drops with the tenant; the ledger's
    # records (and events still queued) stay in their sink.

    @hookimpl
    async def check_references(self, tenant_id: str, settings: BillingSettings) -> dict[str, str] | None:
        """An entry's ``plan_id`` must be a plan of the entry's own tenant (read from the store, not the cache)."""
        if settings.plan_id is not None and await self.backend().plans.get(tenant_id, settings.plan_id) is None:
            return {"plan_id": f"tenant {tenant_id} has no plan {settings.plan_id!r}"}
        return None

    @hookimpl
    def admin_routes(self, services: GatewayServices) -> list[BaseRoute]:
        return billing_routes(services, self.backend, lambda: self.credits)

    @hookimpl
    def portal_routes(self, services: GatewayServices) -> list[BaseRoute]:
        return billing_portal_routes(services, self.backend, lambda: self.credits)

    @hookimpl
    def admin_openapi(self) -> dict[str, Any]:
        return billing_admin_openapi()

    @hookimpl
    async def tenant_openapi(self, tenant: Tenant) -> dict[str, Any]:
        """The 402/429 billing may answer, and the tenant's plans (``x-aiproxy-plans``): never this entry's settings."""
        return await billing_tenant_openapi(self.backend(), tenant.id)

    @hookimpl
    async def metric_readings(self) -> list[MetricReading]:
        """The queues' backlogs for ``GET /metrics``: both stay near 0 while the workers keep up."""
        backend = self._backend
        if backend is None:
            return []
        waiting = (await backend.queue.backlog())["events_waiting"]
        exports = await backend.exports.pending()
        return [
            MetricReading("aiproxy_billing_events_waiting", "Billing events queued for a worker to write to the ledger.", waiting),
            MetricReading("aiproxy_billing_exports_waiting", "Ledger events queued for delivery to tenants' export webhooks.", exports),
        ]

    @hookimpl
    def cli_commands(self, commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
        add_worker_command(commands)
        add_report_commands(commands)

    def backend(self) -> BillingBackend:
        if self._backend is None:
            raise GatewayError("billing is not running on this gateway (its startup did not run)", status=503, code="billing_unavailable")
        return self._backend

    @property
    def credits(self) -> PrepaidCredits:
        if self._credits is None:
            raise GatewayError("billing is not running on this gateway (its startup did not run)", status=503, code="billing_unavailable")
        return self._credits

    @property
    def quota(self) -> FreePlanQuota:
        if self._quota is None:
            raise GatewayError("billing is not running on this gateway (its startup did not run)", status=503, code="billing_unavailable")
        return self._quota

    # -- stages ----------------------------------------------------------------------------------

    @hookimpl
    async def pre_request(self, ctx: RequestContext, settings: BillingSettings) -> None:
        state = billing_state(ctx.state)
        # The usual case, the consumer's plan known and cached, awaits nothing: each coroutine
        # of a hook is created, run and torn down per request.
        plan_id = known_plan_id(ctx) or await consumer_plan_id(ctx.services, ctx.tenant.id, ctx.consumer_id) or settings.plan_id
        if plan_id is not None:
            plans = self.backend().plans
            cached = plans.fresh(ctx.tenant.id, plan_id)
            state.plan = cached[0] if cached is not None else await plans.current(ctx.tenant.id, plan_id)
        plan = state.plan.spec if state.plan is not None else None
        if state.plan is not None and state.plan.spec.rate_limits:
            _hand_over_rate_limits(ctx, state.plan.id, state.plan.spec.rate_limits)
        if settings.enforce_quota and isinstance(plan, FreePlan):
            subject = billing_subject(ctx.consumer_id, ctx.api_key.id)
            if not await self.quota.take(ctx.tenant.id, subject, plan.period, plan.quota):
                state.refused = True
                retry_after = str(seconds_to_period_end(plan.period))
                message = f"the free plan's quota of {plan.quota} requests per {plan.period} is used up"
                if plan.over_quota_status == 402:
                    raise PaymentRequired(
                        message + "; upgrade the plan to continue", code="quota_exceeded", headers={"Retry-After": retry_after}
                    )
                raise RateLimited(message, code="quota_exceeded", headers={"Retry-After": retry_after})
        if settings.prepaid and ctx.consumer_id is not None:
            reservation = await self.credits.reserve(ctx.tenant.id, ctx.consumer_id, to_micros(settings.reserve))
            if reservation is None:
                state.refused = True
                raise PaymentRequired(
                    f"this consumer's prepaid credits are below the {money_text(settings.reserve)} a request reserves;"
                    " top up to continue",
                    code="insufficient_credits",
                )
            state.reservation = reservation
        if settings.stream_usage:
            _ask_for_stream_usage(ctx, state)

    @hookimpl
    def response_chunk(self, ctx: RequestContext, settings: BillingSettings, chunk: bytes) -> bytes | None:
        state = billing_state(ctx.state)
        usage = openai_shapes.usage_in_events(chunk)
        if usage is None:
            return None
        state.streamed_usage = usage
        return without_usage_events(chunk) if state.injected_usage else None

    @hookimpl
    async def post_response(self, ctx: RequestContext, settings: BillingSettings) -> None:
        state = billing_state(ctx.state)
        response = ctx.response
        if state.reservation is not None:
            await self._settle(ctx, state)
        if not settings.meter or state.refused or state.metered or response is None or response.status >= 400:
            return None  # refused or failed: nothing billable happened
        if ctx.annotations.get(INTERRUPTED) == "upstream":
            return None  # the upstream broke off: the consumer got a partial answer and an error

        state.metered = True
        backend = self._backend
        if backend is None:
            logger.error("billing event for request %s lost: the plugin is stopped", ctx.request_id)
            return None
        await backend.queue.put(_event(ctx, state.plan.id if state.plan else None, state.streamed_usage))

    async def _settle(self, ctx: RequestContext, state: Any) -> None:
        """Give the reservation back and charge the request's price (a failed or upstream-interrupted
        request: nothing). Taken out of ``ctx.state`` first: the store keeps no record of
        reservations, so settling one twice would give it back twice."""
        reservation, state.reservation = state.reservation, None
        response = ctx.response
        if response is None or response.status >= 300 or ctx.annotations.get(INTERRUPTED) == "upstream":
            price = 0
        else:
            plan = state.plan.spec if state.plan is not None else None
            exact = _request_price(plan, ctx.request.path, _model(ctx), _usage(ctx, state.streamed_usage))
            price = reservation.amount if exact is None else to_micros(exact)
        credits = self._credits
        if credits is None:
            logger.error("prepaid reservation of request %s not settled: the plugin is stopped", ctx.request_id)
            return
        shortfall = await credits.settle(ctx.tenant.id, reservation, price)
        ctx.annotations["billing.credits_charged"] = money_text(from_micros(price - shortfall))
        if shortfall:
            ctx.annotations["billing.credits_shortfall"] = money_text(from_micros(shortfall))
            logger.warning(
                "request %s cost %s more than consumer %s's prepaid credits held; the balance stops at zero",
                ctx.request_id, money_text(from_micros(shortfall)), ctx.consumer_id,
            )


#: Rules already warned about (billing after the rate limiter), so the log does not flood.
_late_rules: set[str] = set()


def _hand_over_rate_limits(ctx: RequestContext, plan_id: str, limits: PlanRateLimit | list[PlanRateLimit]) -> None:
    """Give the plan's limits to the rate limiter, which must come later in the chain."""
    listed = limits if isinstance(limits, list) else [limits]
    ctx.state[PLAN_RATE_LIMITS] = (plan_id, tuple((limit.limit, limit.window) for limit in listed))
    if ctx.state.get(PLAN_RATE_LIMITS_READ) and ctx.rule.id not in _late_rules:
        _late_rules.add(ctx.rule.id)
        logger.warning(
            "rule %s: the rate limiter ran before billing, so plan %s's rate limits are not applied; give the billing "
            "entry a lower priority than the rate_limiter entry (e.g. 50 and 100)", ctx.rule.id, plan_id,
        )


def _request_price(plan: PlanSpec | None, endpoint: str, model: str, usage: TokenUsage | None) -> Decimal | None:
    """One request's price when the plan prices single requests (pay per call, usage); else None."""
    if isinstance(plan, PayPerCallPlan):
        return plan.endpoint_prices.get(endpoint, plan.price_per_request)
    if isinstance(plan, UsagePlan):
        one = PeriodUsage()
        one.add(endpoint, model, 1, usage.input_tokens if usage else 0, usage.output_tokens if usage else 0)
        return price_period(plan, one)
    return None


def _usage(ctx: RequestContext, streamed: TokenUsage | None) -> TokenUsage | None:
    response = ctx.response
    assert response is not None
    if response.body is None:
        return streamed
    try:
        return openai_shapes.usage_in_body(response.json)  # parsed once per response
    except ValueError:
        return None


def _event(ctx: RequestContext, plan_id: str | None, streamed: Any) -> BillingEvent:
    response = ctx.response
    assert response is not None
    usage = _usage(ctx, streamed)
    return BillingEvent(
        request_id=ctx.request_id,
        tenant_id=ctx.tenant.id,
        consumer_id=ctx.consumer_id,
        key_id=ctx.api_key.id,
        rule_id=ctx.rule.id,
        endpoint=ctx.request.path,
        model=_model(ctx),
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        status=response.status,
        latency_ms=round((time.perf_counter() - ctx.started_at) * 1000, 3),
        timestamp=BillingEvent.now(),
        plan_id=plan_id,
    )


def _model(ctx: RequestContext) -> str:
    """The model that answered (a plain answer names it), else the one the client asked for."""
    response = ctx.response
    if response is not None and response.body:
        try:
            model = openai_shapes.model_of(response.json)
        except ValueError:
            model = None
        if model:
            return model
    try:
        body = ctx.request.json
    except BadRequest:
        return ""
    return openai_shapes.model_of(body) or ""


def _ask_for_stream_usage(ctx: RequestContext, state: Any) -> None:
    raw = ctx.request.body
    # find(), not `in`: `bytes in bytes` builds and clears a TypeError on Python 3.11.
    if raw.find(b'"stream"') < 0 and raw.find(b"\\u") < 0:
        # Most requests are not streamed: skip parsing the body (~2 % of the gateway's CPU under
        # load). A body with \u escapes is parsed anyway: "\u0073tream" is also the key stream,
        # and a client must not dodge token billing by spelling it so. (Before the header look-up
        # below, which scans and decodes the request's headers: this is one search in bytes.)
        return
    if "json" not in ctx.request.headers.get("content-type", ""):
        return  # not a JSON body: nothing to ask, and nothing to parse
    try:
        body = ctx.request.json
    except BadRequest:
        return  # the upstream will answer the bad body; billing does not refuse it
    if not isinstance(body, dict) or body.get("stream") is not True:
        return
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return  # the client asked itself: it gets the chunk
    body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    ctx.request.set_json(body)
    state.injected_usage = True

