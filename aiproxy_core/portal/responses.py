"""The headers every portal answer carries: nothing cached (answers may hold a key shown once),
nothing sniffed, no referrer, and for pages a Content-Security-Policy of this origin only."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

__all__ = ["CONTENT_SECURITY_POLICY", "PAGE_HEADERS", "private_json"]

#: Scripts, styles and fetches from this origin only; no inline script, no frames, no plugins.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

PAGE_HEADERS = {**_PRIVATE, "Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY"}


def private_json(data: Any, status_code: int = 200) -> JSONResponse:
    """A JSON answer no cache keeps."""
    return JSONResponse(data, status_code=status_code, headers=_PRIVATE)
