"""One request's spans: the SERVER span, a span per chain stage and per plugin step in it, and a
CLIENT span per upstream attempt.

Children are made with an explicit parent (the request span, or the running stage), never
through the current-span context variable: ``post_response`` runs in another task, after the
request span has ended, and must still land under it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, TypeVar
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from ..chain.executor import call_step, run_chunk
from ..errors import GatewayError
from .propagation import with_traceparent
from .request_attributes import exception_type, failure_type, request_attributes

if TYPE_CHECKING:
    from starlette.types import Scope

    from ..chain.compiled import Step
    from ..context import ProxyResponse, RequestContext
    from ..models import Tenant
    from ..routing.route_targets import RouteTarget

__all__ = ["RequestTrace"]

T = TypeVar("T")


class RequestTrace:
    """Kept on ``ctx.trace`` (None when tracing is off) so the router and the chain find it."""

    __slots__ = ("tracer", "span", "context", "propagate", "stage_context", "plugins", "attempts", "provider", "chunks", "chunk_error")

    def __init__(self, tracer: Tracer, span: Span, propagate: bool) -> None:
        self.tracer = tracer
        self.span = span
        self.context = trace.set_span_in_context(span, Context())
        self.propagate = propagate
        #: The running stage's span (the parent of its steps); stages of one request never overlap.
        self.stage_context = self.context
        #: The plugins whose hooks the running stage called, in order.
        self.plugins: list[str] = []
        self.attempts = 0
        #: The provider of the last upstream attempt's target ("" for a plain URL target).
        self.provider = ""
        #: Chunks that went through response_chunk hooks: counted, not one span each (thousands per stream).
        self.chunks = 0
        self.chunk_error: str | None = None

    # -- the chain ------------------------------------------------------------------------------

    async def stage(self, steps: tuple[Step, ...], work: Awaitable[T]) -> T:
        """Run ``work`` (the executor over ``steps``, given :meth:`call_step`) in a span named
        after the stage, listing in ``aiproxy.plugins`` the plugins it called."""
        span = self.tracer.start_span(steps[0].hook, context=self.context, kind=SpanKind.INTERNAL)
        self.stage_context = trace.set_span_in_context(span, Context())
        self.plugins = []
        try:
            return await work
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            span.set_attribute("aiproxy.plugins", self.plugins)
            span.end()

    async def call_step(self, step: Step, ctx: RequestContext, chunk: bytes | None = None) -> Any:
        """:func:`~aiproxy_core.chain.executor.call_step` in a span ``{plugin}.{hook}``."""
        self.plugins.append(step.plugin)
        span = self.tracer.start_span(
            f"{step.plugin}.{step.hook}",
            context=self.stage_context,
            kind=SpanKind.INTERNAL,
            attributes={"aiproxy.plugin": step.plugin, "aiproxy.hook": step.hook},
        )
        try:
            return await call_step(step, ctx, chunk)
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            span.end()

    async def run_chunk(self, steps: tuple[Step, ...], ctx: RequestContext, chunk: bytes) -> bytes:
        """:func:`~aiproxy_core.chain.executor.run_chunk`, counted."""
        self.chunks += 1
        try:
            return await run_chunk(steps, ctx, chunk)
        except GatewayError as exc:
            self.chunk_error = exc.code
            raise

    # -- the upstream ---------------------------------------------------------------------------

    def start_attempt(self, method: str, target: RouteTarget, url: str) -> Span:
        """The CLIENT span of one upstream attempt. Only the target's host and port are recorded
        from its URL: its query or user part may hold a credential."""
        self.attempts += 1
        self.provider = target.provider
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "aiproxy.target": target.label,
            "aiproxy.attempt": self.attempts,
        }
        try:
            parts = urlsplit(url)
            if parts.hostname:
                attributes["server.address"] = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
            attributes["server.port"] = port
        except ValueError:  # a URL a plugin wrote badly: the attempt itself will say so
            pass
        if target.provider:
            attributes["gen_ai.provider.name"] = target.provider
        if target.model:
            attributes["gen_ai.request.model"] = target.model
        return self.tracer.start_span(f"{method} upstream", context=self.context, kind=SpanKind.CLIENT, attributes=attributes)

    def attempt_headers(self, span: Span, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The headers for this attempt: none of the client's trace headers, and this attempt's
        ``traceparent`` when ``tracing.propagate_to_upstream`` is on."""
        return with_traceparent(headers, span if self.propagate else None)

    @staticmethod
    def attempt_answered(span: Span, status: int) -> None:
        """The upstream's head arrived: the attempt span ends (its body may still flow; the
        request span covers that)."""
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            if status == 429 or status >= 500:  # what routing counts as the target failing
                span.set_attribute("aiproxy.failure_kind", "status")
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    @staticmethod
    def attempt_failed(span: Span, exc: BaseException, failure_kind: str | None) -> None:
        """No answer from this attempt: ``failure_kind`` is routing's word for it (timeout,
        connect_error) when it may fail over, None when the request itself was at fault."""
        if failure_kind is not None:
            span.set_attribute("aiproxy.failure_kind", failure_kind)
        _failed(span, exc)
        span.end()

    # -- the end --------------------------------------------------------------------------------

    def end(
        self, scope: Scope, ctx: RequestContext | None, tenant: Tenant | None, response: ProxyResponse | None, status: int
    ) -> None:
        """After the last byte was sent (or the client left): every attribute is read now, from
        what the request left behind, so the request path never paid for them."""
        span = self.span
        try:
            if span.is_recording():
                attributes, name, failed = request_attributes(self, scope, ctx, tenant, response, status)
                span.update_name(name)
                span.set_attributes(attributes)
                if failed:
                    span.set_status(Status(StatusCode.ERROR))
        finally:
            span.end()


def _failed(span: Span, exc: BaseException) -> None:
    """Status ERROR with the failure's type; its message and traceback stay in the log (a plugin's
    message may quote the request)."""
    kind = failure_type(exc)
    span.set_attribute("error.type", kind)
    span.add_event("exception", {"exception.type": exception_type(exc)})
    span.set_status(Status(StatusCode.ERROR, kind))
