"""``GET /ui`` (the page) and ``GET /ui/static/{name}`` (its scripts and styles) on the Admin listener.

Both are plain reads that need no credentials: the page is the same static file for everyone and
holds no data; what it shows, it fetches from the Admin API with the signed-in user's token. They
sit behind :class:`~aiproxy_core.admin.guard.AdminGuard` like every Admin route, so the Host
allow-list (DNS rebinding) applies to them too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import NotFound
from .assets import Asset, asset, page
from .security_headers import security_headers

__all__ = ["DASHBOARD_PATH", "dashboard_routes"]

DASHBOARD_PATH = "/ui"
STATIC_PATH = DASHBOARD_PATH + "/static"


def _answer(request: Request, found: Asset, cache: str) -> Response:
    headers = {**security_headers(cache), "ETag": found.etag}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


async def dashboard_page(request: Request) -> Response:
    # no-store: the page is tiny, and an old copy must never outlive a new release's scripts.
    return _answer(request, page(), "no-store")


async def dashboard_asset(request: Request) -> Response:
    name = request.path_params["name"]
    found = asset(name) if name != "index.html" else None
    if found is None:
        raise NotFound(f"the dashboard has no file {name[:100]!r}", code="not_found")
    return _answer(request, found, "no-cache")


def dashboard_routes() -> list[BaseRoute]:
    return [
        # Web pages, not API operations: left out of the OpenAPI document.
        Route(DASHBOARD_PATH, dashboard_page, methods=["GET"], include_in_schema=False),
        Route(STATIC_PATH + "/{name}", dashboard_asset, methods=["GET"], include_in_schema=False),
    ]
