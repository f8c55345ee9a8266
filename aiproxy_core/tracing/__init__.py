"""OpenTelemetry traces of the Proxy API, opt-in (``tracing.enabled``; docs/observability.md).

Only :mod:`.setup` is imported by the gateway; it imports opentelemetry (and the modules here
that need it) only when tracing is on, so the core runs without the packages installed.

* :mod:`.setup`: the tracer provider from the standard ``OTEL_*`` variables, or None when off.
* :mod:`.gateway_tracing`: one gateway's tracer and settings; starts a request's trace.
* :mod:`.request_trace`: one request's spans (stages, plugin steps, upstream attempts).
* :mod:`.request_attributes`: the request span's attributes, read from the request at its end.
* :mod:`.propagation`: W3C ``traceparent`` in (when trusted) and out (to the upstream).
"""

from .setup import tracing_for

__all__ = ["tracing_for"]
