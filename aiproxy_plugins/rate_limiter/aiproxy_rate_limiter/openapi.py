"""What the limiter adds to a tenant's public OpenAPI document (the ``tenant_openapi`` hook):
the headers every response of a limited rule carries and the 429 it answers. The limits
themselves are the tenant's settings and stay out (the headers tell a client its own figures)."""

from __future__ import annotations

from typing import Any

__all__ = ["RATE_LIMIT_OPENAPI"]

_INTEGER = {"type": "integer"}
_STRING = {"type": "string"}

_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {"description": "Every limit of the request (IETF draft): `\"name\";q=<limit>;w=<seconds>`.", "schema": _STRING},
    "RateLimit": {"description": "What is left of each limit: `\"name\";r=<remaining>;t=<seconds until some comes back>`.", "schema": _STRING},
    "X-RateLimit-Limit": {"description": "The tightest limit's size.", "schema": _INTEGER},
    "X-RateLimit-Remaining": {"description": "What is left of the tightest limit.", "schema": _INTEGER},
    "X-RateLimit-Reset": {"description": "Seconds until the tightest limit has room again.", "schema": _INTEGER},
}

RATE_LIMIT_OPENAPI: dict[str, Any] = {
    "headers": _HEADERS,
    "responses": {
        "429": {
            "description": "Rate limited (`rate_limited`): wait Retry-After seconds.",
            "headers": {"Retry-After": {"description": "Seconds to wait before this request would fit.", "schema": _INTEGER}},
        }
    },
}
