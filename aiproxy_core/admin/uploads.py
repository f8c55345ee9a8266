"""Marking the Admin API routes that take files, the only ones that read non-JSON bodies."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.routing import Route

__all__ = ["UploadRoute"]


class UploadRoute(Route):
    """A Starlette ``Route`` whose endpoint takes files as well as JSON.

    The Admin API lets a body of one of ``media_types`` (e.g. ``multipart/form-data``,
    ``application/pdf``) through to this endpoint only, and only when the request carries an
    ``Authorization`` or ``X-API-Key`` header: a header no web page can send to another origin
    without a CORS preflight. Every other body must be ``application/json`` (415 otherwise)::

        UploadRoute("/api/v1/tenants/{tenant_id}/files", upload, methods=["POST"],
                    media_types=("multipart/form-data", "application/pdf"))
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        media_types: Iterable[str] = ("multipart/form-data",),
        **options: Any,
    ) -> None:
        super().__init__(path, endpoint, **options)
        self.media_types = frozenset(kind.strip().lower() for kind in media_types)
