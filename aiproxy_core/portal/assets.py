"""The page's script and style, files of this package, read once and served with the page's headers."""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotFound
from .responses import PAGE_HEADERS

__all__ = ["asset"]

#: The only files served (nothing else in the folder is reachable by name).
_TYPES = {"portal.js": "text/javascript; charset=utf-8", "portal.css": "text/css; charset=utf-8"}


@cache
def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath("assets", name).read_bytes()


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = _TYPES.get(name)
    if media_type is None:
        raise NotFound(f"the portal has no asset {name[:100]!r}")
    return Response(_read(name), media_type=media_type, headers=PAGE_HEADERS)
