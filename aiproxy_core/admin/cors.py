"""CORS for the Admin API: nothing unless ``server.admin_cors_origins`` lists the request's Origin."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CorsPolicy"]

_METHODS = b"GET, POST, PUT, PATCH, DELETE"
_HEADERS = b"Authorization, Content-Type, X-API-Key, X-Request-ID"
_EXPOSED = b"X-Request-ID, Retry-After"
#: How long a browser may reuse one preflight answer (seconds).
_MAX_AGE = b"600"


class CorsPolicy:
    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(origin.strip().lower().rstrip("/") for origin in origins)

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin.lower() in self.origins

    def preflight_headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-allow-headers", _HEADERS),
            (b"access-control-max-age", _MAX_AGE),
            (b"vary", b"Origin"),
        ]

    def response_headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"access-control-expose-headers", _EXPOSED)]
