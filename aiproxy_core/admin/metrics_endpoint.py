"""``GET /metrics``: the Prometheus exposition of the gateway (docs/observability.md).

Like every operator call it needs the admin token when one is set (Prometheus sends it with
``authorization: {credentials: ...}``): the figures name every tenant and rule. Scrape-time
readings (circuits, plugins' ``metric_readings``) come from the shared store; one that fails is
logged and left out, so a scrape answers whatever else is down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable

from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotFound
from ..metrics.circuits import circuit_readings
from ..metrics.readings import MetricReading
from ..plugins.hook_calls import call_and_await
from .access import require_admin
from .state import gateway_of

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["metrics", "SCRAPE_READING_TIMEOUT"]

logger = logging.getLogger("aiproxy.admin")

#: Each scrape-time source has this long to answer before it is left out of the scrape.
SCRAPE_READING_TIMEOUT = 5.0


async def metrics(request: Request) -> Response:
    gateway = gateway_of(request)
    if gateway.metrics is None:
        raise NotFound("metrics are off in this gateway's config (metrics.enabled: false)", code="metrics_disabled")
    require_admin(request, gateway)
    readings = await _readings(gateway)
    body, content_type = gateway.metrics.render(readings, request.headers.get("accept"))
    return Response(body, media_type=content_type)


async def _readings(gateway: Gateway) -> list[tuple[str, list[MetricReading]]]:
    found: list[tuple[str, list[MetricReading]]] = []
    circuits = await _bounded("target circuits", circuit_readings(gateway.store, gateway.target_health))
    if circuits is not None:
        found.append(("target circuits", circuits))
    for impl in reversed(gateway.registry.manager.hook.metric_readings.get_hookimpls()):  # in registration order
        source = f"plugin {impl.plugin_name!r}"
        call = call_and_await(impl, {"services": gateway.services, "config": gateway.plugin_configs.get(impl.plugin_name)})
        readings = await _bounded(source, call)
        if readings is not None:
            found.append((source, readings))
    return found


async def _bounded(source: str, reading: Awaitable[Any]) -> list[Any] | None:
    try:
        found = await asyncio.wait_for(reading, SCRAPE_READING_TIMEOUT)
        return None if found is None else list(found)
    except Exception as exc:
        logger.warning("metrics: %s could not be read for this scrape: %s: %s", source, type(exc).__name__, exc)
        return None
