"""``/-/...`` on the Proxy API: a Starlette app of its own, handed the tenant the Host named.

The Proxy API resolves the tenant (404 ``tenant_not_found`` otherwise) and passes the request here
before any key or rule is looked at, with the tenant's view in ``scope["aiproxy.tenant_view"]``.
Pages add themselves to :func:`tenant_page_routes`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ..errors import GatewayError, error_body
from ..openapi import tenant_openapi_routes
from ..request_ids import new_request_id

if TYPE_CHECKING:
    from ..gateway import Gateway
    from ..models import Tenant
    from ..proxy.routing import TenantView

__all__ = ["TENANT_VIEW", "TenantPages", "gateway_of", "tenant_of", "view_of"]

logger = logging.getLogger("aiproxy.tenant_pages")

#: The scope key holding the resolved tenant's view.
TENANT_VIEW = "aiproxy.tenant_view"


def view_of(request: Request) -> TenantView:
    view: TenantView = request.scope[TENANT_VIEW]
    return view


def tenant_of(request: Request) -> Tenant:
    return view_of(request).tenant


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def index(request: Request) -> Response:
    """What lives under ``/-/`` for this tenant."""
    tenant = tenant_of(request)
    pages = sorted({r.path for r in request.app.routes if isinstance(r, Route) and r.include_in_schema and r.path != "/-/"})
    return JSONResponse({"tenant": {"name": tenant.name, "subdomain": tenant.subdomain}, "pages": pages})


def tenant_page_routes() -> list[BaseRoute]:
    from ..portal import portal_routes  # imported here: the portal uses this module's accessors

    routes: list[BaseRoute] = [Route("/-/", index, methods=["GET"])]
    routes += portal_routes()
    routes += tenant_openapi_routes()
    return routes


def _envelope(status: int, type: str, code: str, message: str, request: Request, headers: Any = None) -> Response:
    request_id = request.scope.setdefault("aiproxy.request_id", new_request_id())
    return Response(error_body(type, code, message, request_id), status_code=status, headers=headers, media_type="application/json")


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return _envelope(exc.status, exc.type, exc.code, exc.message, request, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _envelope(404, "not_found_error", "not_found", f"no page at {request.url.path}; this tenant's pages are listed at /-/", request)
    if exc.status_code == 405:
        return _envelope(405, "invalid_request_error", "method_not_allowed", f"{request.method} is not allowed on {request.url.path}", request)
    return _envelope(exc.status_code, "invalid_request_error", "http_error", str(exc.detail), request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = request.scope.setdefault("aiproxy.request_id", new_request_id())
    logger.exception("tenant page error on %s %s (request %s)", request.method, request.url.path, request_id)
    return _envelope(500, "api_error", "internal_error", f"the gateway hit an unexpected error; its log has the details under request id {request_id}", request)


class TenantPages:
    """The ``/-/`` app; :meth:`serve` is what the Proxy API calls."""

    def __init__(self, gateway: Gateway) -> None:
        handlers: dict[Any, Any] = {GatewayError: _gateway_error, HTTPException: _http_error, Exception: _unexpected}
        self.app = Starlette(routes=tenant_page_routes(), exception_handlers=handlers)
        self.app.state.gateway = gateway

    async def serve(self, view: TenantView, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, TENANT_VIEW: view}, receive, send)
