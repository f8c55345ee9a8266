"""``/healthz``: whether this gateway can serve, and if not, what is down.

It probes the store with one cheap round trip (SQLite ``SELECT 1``, Redis ``PING``) bounded by
a short timeout, so a load balancer or orchestrator sees a Redis outage as 503 instead of ``ok``.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..chain.executor import post_response_failures
from .state import gateway_of

__all__ = ["PROBE_TIMEOUT_SECONDS", "health"]

logger = logging.getLogger("aiproxy.admin")

#: How long the store may take to answer the probe before it counts as down.
PROBE_TIMEOUT_SECONDS = 1.0


async def _store_problem(request: Request) -> str | None:
    store = gateway_of(request).store
    try:
        await asyncio.wait_for(store.ping(), PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"store: {store.description} did not answer within {PROBE_TIMEOUT_SECONDS:g} s"
    except Exception as exc:
        logger.warning("health probe of %s failed: %s: %s", store.description, type(exc).__name__, exc)
        return f"store: {store.description} cannot be reached ({type(exc).__name__}); the gateway log has the details"
    return None


async def health(request: Request) -> Response:
    gateway = gateway_of(request)
    body: dict[str, object] = {"status": "ok", "store": gateway.store.description}
    problem = await _store_problem(request)
    if problem is not None:
        body["status"] = "unavailable"
        body["problems"] = [problem]
    # post_response errors never reach clients; this is where an operator sees them.
    body["post_response_failures"] = dict(post_response_failures)
    return JSONResponse(body, status_code=200 if problem is None else 503)
