"""Building a gateway's tracing from ``tracing.enabled`` and the standard ``OTEL_*`` variables.

Nothing here imports opentelemetry at module level: the core must import and run without the
``tracing`` extra, and a disabled gateway must pay nothing for it.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from ..config.schema import TracingConfig
    from .gateway_tracing import GatewayTracing

__all__ = ["DEFAULT_SERVICE_NAME", "INSTALL_HINT", "tracing_for"]

logger = logging.getLogger("aiproxy.tracing")

#: The ``service.name`` of the spans unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` name one.
DEFAULT_SERVICE_NAME = "aiproxy"
INSTALL_HINT = "pip install 'aiproxy-core[tracing]'"


def tracing_for(config: TracingConfig, provider: TracerProvider | None = None) -> GatewayTracing | None:
    """The gateway's tracing, or None when it is off (then no opentelemetry module is loaded).

    ``provider`` given (tests, or an application that embeds the gateway with its own provider):
    tracing is on with it, whatever ``config.enabled`` says, and its owner shuts it down. Else
    ``config.enabled`` builds a provider exporting with OTLP over HTTP, which the gateway flushes
    and shuts down on stop. Raises :class:`ConfigError` when tracing is on but the packages are
    missing: a gateway asked to trace must not start silently without it.
    """
    if provider is None and not config.enabled:
        return None
    if provider is None and os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        # The SDK's own switch: honoured here so a disabled SDK costs the request path nothing.
        logger.info("tracing.enabled is set but OTEL_SDK_DISABLED=true: no spans are recorded")
        return None
    try:
        from .gateway_tracing import GatewayTracing
    except ImportError as exc:
        raise ConfigError(
            f"tracing.enabled is true but the OpenTelemetry packages are not installed ({exc.name or exc}): "
            f"run {INSTALL_HINT}, or set tracing.enabled: false"
        ) from None
    if provider is not None:
        return GatewayTracing(provider, config, owns_provider=False)
    return GatewayTracing(_otlp_provider(), config, owns_provider=True)


def _otlp_provider() -> TracerProvider:
    """A provider whose spans go in batches to the OTLP/HTTP exporter; the SDK reads the exporter's
    endpoint and headers (``OTEL_EXPORTER_OTLP_*``), the sampler (``OTEL_TRACES_SAMPLER[_ARG]``)
    and the resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``) from the environment."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(
            f"tracing.enabled is true but the OTLP exporter is not installed ({exc.name or exc}): run {INSTALL_HINT}"
        ) from None
    resource = Resource.create()
    # Resource.create fills in "unknown_service:<executable>" when the environment names none;
    # passing our default to it instead would override the variables, which must win.
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)  # sampler: the SDK's, from OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
