"""A portal section: a ``GET`` endpoint under ``/-/portal/api/`` that the page shows under a heading.

A plugin returns :class:`PortalSection` routes from its ``portal_routes`` hook; the page lists them
(title and path, nothing else) and fetches each, with the consumer's key when ``signed_in``. Plain
``Route``s a plugin returns are endpoints too, just not shown as sections.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.routing import Route

__all__ = ["PORTAL_API", "PortalSection"]

#: Where every portal endpoint lives, the core's and the plugins'.
PORTAL_API = "/-/portal/api"


class PortalSection(Route):
    """``PortalSection("/-/portal/api/billing/usage", endpoint, title="Usage")``.

    ``signed_in`` False makes a public section (shown before sign-in, fetched without a key), for
    what any visitor may read, like the plans on sale. Its endpoint must then not call
    :func:`~aiproxy_core.portal_consumer`.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], *, title: str, signed_in: bool = True) -> None:
        super().__init__(path, endpoint, methods=["GET"])
        self.title = title
        self.signed_in = signed_in

    def describe(self) -> dict[str, Any]:
        return {"title": self.title, "path": self.path, "signed_in": self.signed_in}
