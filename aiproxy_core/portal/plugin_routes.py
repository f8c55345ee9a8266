"""The plugins' portal endpoints (the ``portal_routes`` hook), asked for once per gateway.

The ``/-/`` app's routes are a plain list built before it knows its gateway, so the plugins' routes
sit behind one route that asks the hook the first time a request reaches it and keeps the answer on
the app. A route outside ``/-/portal/api/`` is left out (logged): a plugin may not take over the
page or another tenant page.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

from ..plugins.hook_calls import call_now
from .sections import PORTAL_API, PortalSection

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["PluginPortalRoutes", "plugin_routes", "plugin_sections"]

logger = logging.getLogger("aiproxy.portal")

_CACHE = "portal_plugin_routes"
_CHOSEN = "aiproxy.portal_route"


def _collect(gateway: Gateway) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for impl in reversed(gateway.registry.manager.hook.portal_routes.get_hookimpls()):  # in registration order
        for route in call_now(impl, {"services": gateway.services}) or []:
            path = getattr(route, "path", "")
            if not isinstance(route, Route) or not path.startswith(PORTAL_API + "/"):
                logger.error("plugin %s: portal route %r left out: portal routes are Routes under %s/", impl.plugin_name, path, PORTAL_API)
                continue
            routes.append(route)
    return routes


def plugin_routes(app_state: object, gateway: Gateway) -> list[BaseRoute]:
    """The plugins' routes, asked for on first use and then kept on the ``/-/`` app's state."""
    routes: list[BaseRoute] | None = getattr(app_state, _CACHE, None)
    if routes is None:
        routes = _collect(gateway)
        setattr(app_state, _CACHE, routes)
    return routes


def plugin_sections(request: Request) -> list[PortalSection]:
    return [r for r in plugin_routes(request.app.state, request.app.state.gateway) if isinstance(r, PortalSection)]


class PluginPortalRoutes(BaseRoute):
    """Stands for every plugin's portal route in the ``/-/`` app's route list."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        app = scope.get("app")
        if app is None or not scope["path"].startswith(PORTAL_API + "/"):
            return Match.NONE, {}
        partial: tuple[Match, Scope] | None = None
        for route in plugin_routes(app.state, app.state.gateway):
            match, child = route.matches(scope)
            if match == Match.FULL:
                return match, {**child, _CHOSEN: route}
            if match == Match.PARTIAL and partial is None:
                partial = (match, {**child, _CHOSEN: route})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope[_CHOSEN]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)
