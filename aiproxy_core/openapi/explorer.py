"""The interactive explorer: Swagger UI from the ``swagger-ui-bundle-v2`` package (Apache-2.0),
served by the gateway itself, never from a CDN.

One page (:func:`explorer_page`) for both documents, and an allow-list of asset files: the
package's folder also holds an ``index.html`` whose default script loads the Petstore from the
internet, and source maps nobody needs, so the folder is not mounted whole. The page's
Content-Security-Policy allows only this origin (Swagger UI sets inline styles, so styles may be
inline; scripts may not), and ``connect-src 'self'`` keeps try-it on the same origin.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from ..errors import NotFound

__all__ = ["CONTENT_SECURITY_POLICY", "explorer_asset", "explorer_page"]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_BUNDLE = Path(str(swagger_ui_path))
#: The files the page loads, and where each one lies.
ASSETS: dict[str, Path] = {
    "swagger-ui.css": _BUNDLE / "swagger-ui.css",
    "swagger-ui-bundle.js": _BUNDLE / "swagger-ui-bundle.js",
    "favicon-32x32.png": _BUNDLE / "favicon-32x32.png",
    "explorer.js": Path(__file__).with_name("explorer.js"),
}
_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/explorer.js"></script>
</body>
</html>
"""

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def explorer_page(title: str, spec_url: str, assets_url: str) -> Response:
    page = _PAGE.format(title=html.escape(title), spec_url=html.escape(spec_url), assets=html.escape(assets_url))
    return HTMLResponse(page, headers=_HEADERS)


async def explorer_asset(request: Request) -> Response:
    """``.../assets/{name}``: one of :data:`ASSETS`, else 404 in the envelope."""
    name = request.path_params["name"]
    path = ASSETS.get(name)
    if path is None:
        raise NotFound(f"the explorer has no asset {name!r}", code="not_found")
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix], headers=headers)
