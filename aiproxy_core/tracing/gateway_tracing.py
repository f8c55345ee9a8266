"""One gateway's tracing: its tracer, its trust and propagation settings, and its provider's end."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from .propagation import incoming_context
from .request_trace import RequestTrace

if TYPE_CHECKING:
    from starlette.types import Scope

    from ..config.schema import TracingConfig

__all__ = ["GatewayTracing", "TRACER_NAME"]

logger = logging.getLogger("aiproxy.tracing")

#: The instrumentation scope of every span.
TRACER_NAME = "aiproxy"


class GatewayTracing:
    """Starts each request's trace. The provider is never made the global one: several gateways
    may run in one process (tests, embedding apps), each with its own."""

    def __init__(self, provider: TracerProvider, config: TracingConfig, *, owns_provider: bool) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER_NAME)
        self.trust_incoming = config.trust_incoming_traceparent
        self.propagate = config.propagate_to_upstream
        #: A provider the gateway built is shut down with it; one it was given belongs to its caller.
        self.owns_provider = owns_provider

    def start_request(self, scope: Scope, from_trusted_proxy: bool) -> RequestTrace:
        """The SERVER span of a request that just arrived; it continues the caller's trace only
        when the caller may choose it (a trusted proxy, or ``trust_incoming_traceparent``)."""
        parent = None
        if from_trusted_proxy or self.trust_incoming:
            parent = incoming_context(scope["headers"])
        # An empty Context, not None: None would fall back to whatever span is current in this
        # task (an embedding app's), and an untrusted request must start a trace of its own.
        span = self.tracer.start_span(scope["method"], context=parent or Context(), kind=SpanKind.SERVER)
        return RequestTrace(self.tracer, span, self.propagate)

    async def shutdown(self) -> None:
        """Export what is still queued: all of it when the provider is the gateway's (shut down),
        else a flush. In a thread: exporting may wait on the collector for seconds."""
        try:
            if self.owns_provider:
                await asyncio.to_thread(self.provider.shutdown)
            else:
                await asyncio.to_thread(self.provider.force_flush)
        except Exception:  # a collector that is down must not break the gateway's shutdown
            logger.warning("could not flush the last spans", exc_info=True)
