"""The four endpoints: each document as JSON and the explorer on it, on the Admin API
(``/api/v1/openapi.json``, ``/docs``) and on the Proxy API for the Host's tenant
(``/-/openapi.json``, ``/-/docs``). None needs credentials: the documents describe the API, and the
tenant's leaves out every value a rule holds (see :mod:`.tenant_document`)."""

from __future__ import annotations

import json
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .admin_document import admin_document
from .explorer import explorer_asset, explorer_page
from .tenant_document import tenant_document

__all__ = ["ROUTE_PLUGINS", "admin_doc_routes", "admin_explorer", "admin_openapi", "tenant_openapi_routes"]

#: Seconds a tenant's built document is served again before it is rebuilt.
TENANT_DOCUMENT_SECONDS = 5.0
_TENANT_CACHE = "tenant_openapi_documents"
_TENANT_CACHE_SIZE = 1024

#: ``app.state`` attribute: route id -> the name of the plugin that added it (core routes absent).
ROUTE_PLUGINS = "route_plugins"
_CACHED = "openapi_document"


async def admin_openapi(request: Request) -> Response:
    """The Admin API's document: the routes and plugins do not change while a process runs, so
    it is built on first request and kept."""
    state = request.app.state
    cached = getattr(state, _CACHED, None)
    if cached is None:
        owners: dict[int, str] = getattr(state, ROUTE_PLUGINS, {})
        routes = [(owners.get(id(route)), route) for route in request.app.routes]
        cached = json.dumps(admin_document(state.gateway, routes), ensure_ascii=False).encode()
        setattr(state, _CACHED, cached)
    return Response(cached, media_type="application/json", headers={"Cache-Control": "no-cache"})


async def admin_explorer(request: Request) -> Response:
    return explorer_page("aiproxy Admin API", "/api/v1/openapi.json", "/docs/assets")


async def tenant_openapi(request: Request) -> Response:
    """A tenant's document, kept for :data:`TENANT_DOCUMENT_SECONDS` per tenant: anyone may ask
    for it, so a flood of requests costs one build (plugins' hooks, billing's plan read) per
    tenant and period, not one each. A change of the tenant's rules (a new view) rebuilds it at
    once; plans a plugin reads show within the period."""
    from ..tenant_pages.app import gateway_of, view_of

    view = view_of(request)
    cache: dict[str, tuple[object, float, bytes]] | None = getattr(request.app.state, _TENANT_CACHE, None)
    if cache is None:
        cache = {}
        setattr(request.app.state, _TENANT_CACHE, cache)
    now = time.monotonic()
    kept = cache.get(view.tenant.id)
    if kept is not None and kept[0] is view and now < kept[1]:
        body = kept[2]
    else:
        body = json.dumps(await tenant_document(gateway_of(request), view), ensure_ascii=False).encode()
        if len(cache) >= _TENANT_CACHE_SIZE:
            cache.clear()  # bounded: a burst over many tenants rebuilds, it never grows without end
        cache[view.tenant.id] = (view, now + TENANT_DOCUMENT_SECONDS, body)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


async def tenant_explorer(request: Request) -> Response:
    from ..tenant_pages.app import tenant_of

    return explorer_page(f"{tenant_of(request).name} API", "/-/openapi.json", "/-/docs/assets")


def admin_doc_routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/openapi.json", admin_openapi, methods=["GET"]),
        Route("/docs", admin_explorer, methods=["GET"]),
        Route("/docs/assets/{name}", explorer_asset, methods=["GET"], include_in_schema=False),
    ]


def tenant_openapi_routes() -> list[BaseRoute]:
    return [
        Route("/-/openapi.json", tenant_openapi, methods=["GET"]),
        Route("/-/docs", tenant_explorer, methods=["GET"]),
        Route("/-/docs/assets/{name}", explorer_asset, methods=["GET"], include_in_schema=False),
    ]
