"""Every route of the developer portal, for the ``/-/`` app (``tenant_page_routes``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from .assets import asset
from .consumer_api import me, rotate_own_key, sections
from .page import portal_page
from .plugin_routes import PluginPortalRoutes
from .sections import PORTAL_API
from .signup import signup

__all__ = ["portal_routes"]


def portal_routes() -> list[BaseRoute]:
    return [
        Route("/-/portal", portal_page, methods=["GET"]),
        Route("/-/portal/assets/{name}", asset, methods=["GET"], include_in_schema=False),
        Route(PORTAL_API + "/sections", sections, methods=["GET"]),
        Route(PORTAL_API + "/me", me, methods=["GET"]),
        Route(PORTAL_API + "/key/rotate", rotate_own_key, methods=["POST"]),
        Route(PORTAL_API + "/signup", signup, methods=["POST"]),
        PluginPortalRoutes(),  # last: the core's paths win over a plugin's
    ]
