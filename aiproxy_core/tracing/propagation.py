"""W3C Trace Context (``traceparent``, ``tracestate``) into the gateway, and out to the upstream.

A client that may choose the gateway's trace ids could also force every span to be sampled (the
``traceparent`` flags), so an incoming one is read only when the caller decides it is trusted.
"""

from __future__ import annotations

from typing import Iterable

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["TRACE_HEADERS", "incoming_context", "with_traceparent"]

#: The headers that carry a trace; a client's are never passed upstream while tracing is on.
TRACE_HEADERS = frozenset({"traceparent", "tracestate"})
_RAW_TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate"}

_PROPAGATOR = TraceContextTextMapPropagator()


def incoming_context(raw_headers: Iterable[tuple[bytes, bytes]]) -> Context | None:
    """The parent context a valid incoming ``traceparent`` names, or None (a new trace)."""
    carrier: dict[str, str] = {}
    for name, value in raw_headers:
        key = _RAW_TRACE_HEADERS.get(name)
        if key is not None and key not in carrier:
            carrier[key] = value.decode("latin-1")
    if "traceparent" not in carrier:
        return None
    context = _PROPAGATOR.extract(carrier, context=Context())
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None  # malformed: the propagator ignored it
    return context


def with_traceparent(headers: list[tuple[str, str]], span: Span | None) -> list[tuple[str, str]]:
    """``headers`` without any trace header they carry (a client's, or a rule's), plus ``span``'s
    ``traceparent`` (and ``tracestate``) when ``span`` is given."""
    out = [(name, value) for name, value in headers if name.lower() not in TRACE_HEADERS]
    if span is not None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span, Context()))
        out.extend(carrier.items())
    return out
