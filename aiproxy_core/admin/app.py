"""The Admin API (Starlette): tenants, rules, keys, plugins, and the routes plugins add."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from ..dashboard import dashboard_routes
from ..errors import GatewayError, ServiceUnavailable, error_body
from ..openapi import admin_doc_routes
from ..openapi.endpoints import ROUTE_PLUGINS
from ..plugins.hook_calls import call_now
from ..store.base import STORE_UNREACHABLE, UNAVAILABLE_RETRY_AFTER
from . import consumers, key_endpoints, rules, tenants
from .guard import AdminGuard, request_id_of
from .health import health
from .metrics_endpoint import metrics
from .state import gateway_of

if TYPE_CHECKING:
    from ..gateway import Gateway

logger = logging.getLogger("aiproxy.admin")

_HTTP_CODES = {404: ("not_found_error", "not_found"), 405: ("invalid_request_error", "method_not_allowed")}


async def list_plugins(request: Request) -> Response:
    return JSONResponse({"data": [info.as_dict() for info in gateway_of(request).registry.describe()]})


def _json_error(
    status: int, type: str, code: str, message: str, request: Request, headers: Mapping[str, str] | None = None, details: Any = None
) -> Response:
    return Response(
        error_body(type, code, message, request_id_of(request), details),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return _json_error(exc.status, exc.type, exc.code, exc.message, request, exc.headers, exc.details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    type, code = _HTTP_CODES.get(exc.status_code, ("invalid_request_error", "http_error"))
    message = exc.detail
    if exc.status_code == 404:
        message = f"no Admin API endpoint at {request.url.path}; the API lives under /api/v1/"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return _json_error(exc.status_code, type, code, message, request, exc.headers)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    logger.warning(
        "Admin API %s %s (request %s): the store is unreachable: %s: %s",
        request.method, request.url.path, request_id_of(request), type(exc).__name__, exc,
    )  # fmt: skip
    error = ServiceUnavailable(
        "the gateway cannot reach its store right now, so nothing was read or changed; retry shortly",
        code="store_unavailable",
        headers={"Retry-After": UNAVAILABLE_RETRY_AFTER},
    )
    return await _gateway_error(request, error)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = request_id_of(request)
    logger.exception("Admin API error on %s %s (request %s)", request.method, request.url.path, request_id)
    message = f"the gateway hit an unexpected error; its log has the details under request id {request_id}"
    return _json_error(500, "api_error", "internal_error", message, request)


def core_routes() -> list[BaseRoute]:
    t = "/api/v1/tenants/{tenant_id}"
    c = t + "/consumers/{consumer_id}"
    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/v1/plugins", list_plugins, methods=["GET"]),
        Route("/api/v1/tenants", tenants.create_tenant, methods=["POST"]),
        Route("/api/v1/tenants", tenants.list_tenants, methods=["GET"]),
        Route(t, tenants.get_tenant, methods=["GET"]),
        Route(t, tenants.patch_tenant, methods=["PATCH"]),
        Route(t, tenants.delete_tenant, methods=["DELETE"]),
        Route(t + "/rules", rules.create_rule, methods=["POST"]),
        Route(t + "/rules", rules.list_rules, methods=["GET"]),
        Route(t + "/rules/{rule_id}", rules.get_rule, methods=["GET"]),
        Route(t + "/rules/{rule_id}/targets", rules.rule_targets, methods=["GET"]),
        Route(t + "/rules/{rule_id}", rules.replace_rule, methods=["PUT"]),
        Route(t + "/rules/{rule_id}", rules.delete_rule, methods=["DELETE"]),
        Route(t + "/consumers", consumers.create_consumer, methods=["POST"]),
        Route(t + "/consumers", consumers.list_consumers, methods=["GET"]),
        Route(c, consumers.get_consumer, methods=["GET"]),
        Route(c, consumers.patch_consumer, methods=["PATCH"]),
        Route(c, consumers.delete_consumer, methods=["DELETE"]),
    ]
    # The same key endpoints serve a tenant's own keys and each consumer's.
    for owner in (t, c):
        routes += [
            Route(owner + "/keys", key_endpoints.create_key, methods=["POST"]),
            Route(owner + "/keys", key_endpoints.list_keys, methods=["GET"]),
            Route(owner + "/keys/{key_id}", key_endpoints.revoke_key, methods=["DELETE"]),
            Route(owner + "/keys/{key_id}/rotate", key_endpoints.rotate_key, methods=["POST"]),
        ]
    routes += dashboard_routes()
    return routes + admin_doc_routes()


def build_admin_app(gateway: "Gateway") -> ASGIApp:
    """The Starlette app of every route, inside :class:`~.guard.AdminGuard` (hosts, CORS, body types,
    throttling, request ids)."""
    routes = core_routes()
    owners: dict[int, str] = {}  # for the OpenAPI document: which plugin added which route
    for impl in reversed(gateway.registry.manager.hook.admin_routes.get_hookimpls()):  # in registration order
        added = call_now(impl, {"services": gateway.services}) or []
        owners.update((id(route), impl.plugin_name) for route in added)
        routes.extend(added)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Only used when this app is served alone; `aiproxy serve` starts the gateway itself.
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    handlers: dict[type[Exception], Any] = {GatewayError: _gateway_error, HTTPException: _http_error}
    handlers.update({unreachable: _store_unavailable for unreachable in STORE_UNREACHABLE})
    handlers[Exception] = _unexpected_error
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.gateway = gateway
    setattr(app.state, ROUTE_PLUGINS, owners)
    return AdminGuard(app, gateway.config.server, routes)
