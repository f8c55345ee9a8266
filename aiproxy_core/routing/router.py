"""Sending a request to a rule's targets: attempts, retries, failover, time to first token.

A request is tried on the plan's candidates in order; a failure named in ``retry_on`` moves it to
the next candidate (or, once every candidate was tried, back to the first after a backoff or the
upstream's ``Retry-After``), until ``retries.attempts`` are spent or the next wait would pass
``retries.max_wait``. Nothing here sends a byte to the client: the response returned is the first
one the gateway accepted, so a request is never retried after its answer began.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, AsyncIterator, Awaitable

from ..context import ProxyResponse
from ..errors import GatewayError, ServiceUnavailable, UpstreamTimeout, UpstreamUnreachable
from ..proxy.headers import downstream_headers
from ..proxy.request_path import RequestPath
from ..proxy.streaming import close_stream, discard
from ..state_keys import UPSTREAM_MS
from .failures import Failure, backoff_delay, context_exceeded, retry_after_seconds
from .formats import FormatBridge
from .health import TargetHealth
from .plan import RoutePlan
from .route_targets import Endpoint, RouteTarget

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ..context import RequestContext
    from ..proxy.disconnect import DisconnectWatch
    from ..tracing.request_trace import RequestTrace
    from ..upstream import UpstreamClient, UpstreamResponse

__all__ = ["Router", "WHOLE_BODY_LIMIT"]

logger = logging.getLogger("aiproxy.routing")

#: Plain upstream bodies up to this size are read whole and sent in one message (fewer syscalls);
#: larger, unsized or event-stream bodies are passed on chunk by chunk as they arrive.
WHOLE_BODY_LIMIT = 1024 * 1024


class Router:
    def __init__(self, upstream: UpstreamClient, health: TargetHealth, bridge: FormatBridge) -> None:
        self.upstream = upstream
        self.health = health
        self.bridge = bridge

    async def forward(
        self,
        ctx: RequestContext,
        plan: RoutePlan,
        path: RequestPath,
        headers: list[tuple[str, str]],
        watch: DisconnectWatch,
        stream_chunks: bool,
        overridden: str | None = None,
    ) -> ProxyResponse:
        """The first acceptable answer of the plan's targets; raises the envelope of the last
        failure when none answered. ``stream_chunks``: a chain hook reads the stream's events.
        ``overridden``: the URL a plugin put in ``ctx.upstream_url``, sent to once, as it is."""
        if overridden is not None:
            target = plan.targets[0]
            ctx.response_headers["x-aiproxy-target"] = target.label
            ctx.response_headers["x-aiproxy-attempts"] = "1"
            started = time.perf_counter()
            try:
                response = await self._attempt(ctx, target, Endpoint(overridden, ""), headers, watch, False, None, stream_chunks)
            except GatewayError as exc:
                _log_failure(ctx, target, exc)
                raise
            ctx.annotations[UPSTREAM_MS] = (time.perf_counter() - started) * 1000
            return response
        candidates = [plan.targets[0]] if plan.plain else plan.candidates(ctx, self.health)
        health = None if plan.plain else self.health
        tenant_id = ctx.tenant.id
        max_attempts = plan.max_attempts
        retry = plan.retry
        rules = plan.retry_rules
        ttft = plan.ttft_timeout
        wants_stream = ttft is not None and _asks_stream(ctx)
        waited = 0.0
        attempt = 0
        #: The next candidate to try, and how many times every candidate has been tried.
        position = rounds = 0
        retry_after: dict[int, float | None] = {}
        last: Failure | None = None
        while True:
            if attempt and retry is None:
                break
            if not candidates:
                if last is None:
                    raise _all_open(plan)
                break
            if position >= len(candidates):
                position = 0
                rounds += 1
            target = candidates[position]
            view = health.view(tenant_id, target.health_key, plan.circuit) if health is not None else None
            if view is not None and view.state == "open" and plan.circuit is not None:  # opened by this request's failures
                candidates.pop(position)
                continue
            if view is not None and view.state == "half_open":
                probing = await self.health.try_probe(view)
                if not probing:  # another request probes it: leave it out (not an attempt)
                    candidates.pop(position)
                    continue
            else:
                probing = False
            if rounds and retry is not None:  # back to a target already tried: wait what it asked, or a backoff
                wait = retry_after.get(target.index)
                if wait is None:
                    wait = backoff_delay(retry, rounds)
                if waited + wait > retry.max_wait:
                    break
                if wait > 0:
                    await watch.upstream(asyncio.sleep(wait))
                    waited += wait
            attempt += 1
            position += 1
            started = time.perf_counter()
            ctx.annotations["target"] = target.label
            ctx.response_headers["x-aiproxy-target"] = target.label
            ctx.response_headers["x-aiproxy-attempts"] = str(attempt)
            try:
                if target.index == 0 and not target.provider:  # already joined for ctx.upstream_url
                    endpoint = Endpoint(ctx.upstream_url, "")
                else:
                    endpoint = target.endpoint(path, ctx.request.query_string)
                response = await self._attempt(ctx, target, endpoint, headers, watch, wants_stream, ttft, stream_chunks)
            except GatewayError as exc:
                kind = _failure_kind(exc)
                if kind is None:  # the request's own fault (or a rule's): no other target would do better
                    raise
                failure = Failure(kind, target.label, error=exc)
                _log_failure(ctx, target, exc)
                if view is not None:
                    await self.health.failed(view, probing)
                last = failure
                if rules is None or not rules.retryable(failure) or attempt >= max_attempts:
                    break
                retry_after[target.index] = None
                continue
            status = response.status
            latency = (time.perf_counter() - started) * 1000
            failing = status == 429 or status >= 500
            if failing and rules is not None and rules.status_retryable(status) and attempt < max_attempts:
                failure = Failure("status", target.label, status=status, retry_after=response.retry_after)
                await discard(response)
                if view is not None:
                    await self.health.failed(view, probing)
                retry_after[target.index] = failure.retry_after
                last = failure
                logger.info("request %s: target %s answered %d; trying again", ctx.request_id, target.label, status)
                continue
            if status < 500 and rules is not None and rules.context_window and context_exceeded(status, response.body):
                # The prompt does not fit this target's model: a bigger one may hold it, the same never.
                candidates.pop(position - 1)
                position -= 1
                if candidates and attempt < max_attempts:
                    await discard(response)
                    last = Failure("context_window", target.label, status=status)
                    logger.info("request %s: target %s cannot hold the prompt; trying the next", ctx.request_id, target.label)
                    continue
                ctx.annotations[UPSTREAM_MS] = latency
                return response  # the provider's own words on it reach the client
            ctx.annotations[UPSTREAM_MS] = latency  # the accepted attempt's (health keeps it too)
            if view is not None:
                if failing:
                    await self.health.failed(view, probing)
                else:
                    closing = self.health.succeeded(view, latency, probing)
                    if closing is not None:
                        await closing
            if failing and plan.policy is not None and rules is not None and rules.status_retryable(status):
                await discard(response)
                raise _exhausted(Failure("status", target.label, status=status, retry_after=response.retry_after), attempt)
            return response
        assert last is not None
        if plan.policy is None and last.error is not None:
            raise last.error
        raise _exhausted(last, attempt)

    def _attempt(
        self,
        ctx: RequestContext,
        target: RouteTarget,
        endpoint: Endpoint,
        headers: list[tuple[str, str]],
        watch: DisconnectWatch,
        wants_stream: bool,
        ttft: float | None,
        stream_chunks: bool,
    ) -> Awaitable[RoutedResponse]:
        """One attempt: the exchange itself (no coroutine in between), in a span of its own when
        the request is traced: a CLIENT span per attempt, failed ones included, ending when the
        head arrives; its traceparent goes upstream in place of any the client sent."""
        trace = ctx.trace
        if trace is None:
            return self._exchange(ctx, target, endpoint, headers, watch, wants_stream, ttft, stream_chunks)
        span = trace.start_attempt(ctx.request.method, target, endpoint.url)
        return _traced_attempt(trace, span, self._exchange(ctx, target, endpoint, headers, watch, wants_stream, ttft, stream_chunks, span))

    async def _exchange(
        self,
        ctx: RequestContext,
        target: RouteTarget,
        endpoint: Endpoint,
        headers: list[tuple[str, str]],
        watch: DisconnectWatch,
        wants_stream: bool,
        ttft: float | None,
        stream_chunks: bool,
        span: Span | None = None,
    ) -> RoutedResponse:
        """One attempt: send, and read the head (and a small plain body); ``span``: the attempt's
        span when traced, whose ``traceparent`` replaces any trace header in the request."""
        request = ctx.request
        body = self.bridge.request_body(ctx, target, endpoint.translation)
        sent_headers = self.bridge.request_headers(headers, target, endpoint.translation)
        if span is not None and ctx.trace is not None:
            sent_headers = ctx.trace.attempt_headers(span, sent_headers)
        first: bytes | None = None
        rest: AsyncIterator[bytes] | None = None
        if ttft is None:
            upstream = await watch.upstream(self.upstream.send(request.method, endpoint.url, sent_headers, body, target.timeout))
        else:
            upstream, first, rest = await watch.upstream(
                self._first_event(request.method, endpoint.url, sent_headers, body, target.timeout, ttft, wants_stream)
            )
        response_headers = downstream_headers(upstream.raw_headers)
        retry_after = retry_after_seconds(upstream.raw_headers) if upstream.status == 429 or upstream.status >= 500 else None
        length = upstream.content_length
        is_stream = upstream.content_type.startswith("text/event-stream")
        if first is None and length is not None and length <= WHOLE_BODY_LIMIT and not is_stream:
            body_bytes = await watch.upstream(upstream.read())
            routed = RoutedResponse(upstream.status, response_headers, body_bytes)
            routed.retry_after = retry_after
            self.bridge.finish_plain(ctx, target, endpoint.translation, routed)
            return routed
        # After a first event the rest comes from the same iterator: a second iter_chunks() would
        # leave the first one suspended, and its finalizer would close the connection mid-stream.
        chunks: AsyncIterator[bytes] = upstream.iter_chunks() if first is None or rest is None else _prepended(first, rest)
        routed = RoutedResponse(upstream.status, response_headers, stream=chunks)
        routed.retry_after = retry_after
        self.bridge.finish_stream(ctx, target, endpoint.translation, routed, is_stream, stream_chunks)
        return routed

    async def _first_event(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, timeout: float | None, ttft: float, wants_stream: bool
    ) -> tuple[UpstreamResponse, bytes | None, AsyncIterator[bytes] | None]:
        """Send, and for an event stream wait for its first bytes: all within ``ttft`` seconds
        (the head too when the client asked for a stream), else a timeout that fails over.
        Returns the response, its first bytes (None: not a stream) and the iterator of the rest."""
        deadline = time.monotonic() + ttft
        try:
            if wants_stream:
                async with asyncio.timeout(ttft):
                    upstream = await self.upstream.send(method, url, headers, body, timeout)
            else:
                upstream = await self.upstream.send(method, url, headers, body, timeout)
            if not upstream.content_type.startswith("text/event-stream"):
                return upstream, None, None
            chunks = upstream.iter_chunks()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    first = await chunks.__anext__()
            except StopAsyncIteration:
                return upstream, b"", None
            except BaseException:
                await close_stream(chunks)
                raise
        except TimeoutError:
            error = UpstreamTimeout("the upstream of this route sent nothing within the route's time to first token")
            error.log_detail = f"no first event within ttft_timeout {ttft} s"
            raise error from None
        return upstream, first, chunks


async def _traced_attempt(trace: RequestTrace, span: Span, exchange: Awaitable[RoutedResponse]) -> RoutedResponse:
    try:
        response = await exchange
    except BaseException as exc:
        trace.attempt_failed(span, exc, _failure_kind(exc) if isinstance(exc, GatewayError) else None)
        raise
    trace.attempt_answered(span, response.status)
    return response


class RoutedResponse(ProxyResponse):
    """A response with what routing needs to know of it (the upstream's ``Retry-After``)."""

    __slots__ = ("retry_after",)

    retry_after: float | None


async def _prepended(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await close_stream(rest)


def _asks_stream(ctx: RequestContext) -> bool:
    if ctx.request.body.find(b'"stream"') < 0:  # find(), not `in`: that builds and clears a TypeError on 3.11
        return False
    try:
        body = ctx.request.json
    except GatewayError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


#: Errors of an attempt that say the target failed (the rest are the request's own fault).
_TARGET_FAILURES = frozenset({"target_not_allowed", "upstream_bad_response"})


def _failure_kind(exc: GatewayError) -> str | None:
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    if isinstance(exc, UpstreamUnreachable) or exc.code in _TARGET_FAILURES:
        return "connect_error"
    return None


def _exhausted(last: Failure, attempts: int) -> GatewayError:
    """The envelope when no attempt succeeded: its status says the last failure's class."""
    said = f"no target of this route could answer ({attempts} attempt{'s' if attempts != 1 else ''}); the last: {last.describe()}"
    if last.kind == "timeout":
        return UpstreamTimeout(said)
    if last.kind == "status":
        if last.status == 429:
            headers = {"retry-after": str(max(1, round(last.retry_after)))} if last.retry_after is not None else None
            return ServiceUnavailable(said, code="upstream_rate_limited", headers=headers)
        return GatewayError(said, code="upstream_error", status=502)
    if isinstance(last.error, GatewayError) and last.error.code == "target_not_allowed":
        return last.error
    return UpstreamUnreachable(said)


def _all_open(plan: RoutePlan) -> ServiceUnavailable:
    cooldown = plan.circuit.cooldown if plan.circuit is not None else 1
    return ServiceUnavailable(
        "every target of this route is failing and resting (its circuit is open); retry later",
        code="no_target_available",
        headers={"retry-after": str(max(1, round(cooldown)))},
    )


def _log_failure(ctx: RequestContext, target: RouteTarget, exc: GatewayError) -> None:
    detail = exc.log_detail
    if detail:
        logger.warning("request %s (rule %s, target %s): %s: %s", ctx.request_id, ctx.rule.id, target.label, exc.code, detail)
