"""The gateway's exceptions, and the one JSON error shape they become at the edge.

Exception tree::

    GatewayError                  - anything a client should see as {"error": {...}}
    ├── BadRequest                400  (invalid_request_error)
    ├── Unauthorized              401  (authentication_error)
    ├── PaymentRequired           402  (insufficient_quota)
    ├── Forbidden                 403  (permission_error)
    ├── NotFound                  404  (not_found_error)
    ├── MethodNotAllowed          405  (invalid_request_error)
    ├── Conflict                  409  (invalid_request_error)
    ├── PayloadTooLarge           413  (invalid_request_error)
    ├── UnsupportedMediaType      415  (invalid_request_error)
    ├── MisdirectedRequest        421  (invalid_request_error)
    ├── ValidationFailed          422  (invalid_request_error)
    ├── RateLimited               429  (rate_limit_error)
    ├── HeadersTooLarge           431  (invalid_request_error)
    ├── PluginFailed              500  (api_error)
    ├── UpstreamUnreachable       502  (upstream_error)
    ├── ServiceUnavailable        503  (api_error)
    ├── UpstreamTimeout           504  (upstream_error)
    └── LoopDetected              508  (upstream_error)

    ConfigError                   - a bad config file or environment override, raised at start
    PluginLoadError               - a plugin that could not be imported or registered

The envelope follows OpenAI's, so the official client raises the matching exception class:
``{"error": {"type": ..., "code": ..., "message": ..., "request_id": ...}}``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "GatewayError",
    "BadRequest",
    "Unauthorized",
    "PaymentRequired",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "MisdirectedRequest",
    "ValidationFailed",
    "RateLimited",
    "HeadersTooLarge",
    "PluginFailed",
    "UpstreamUnreachable",
    "ServiceUnavailable",
    "UpstreamTimeout",
    "LoopDetected",
    "ConfigError",
    "PluginLoadError",
    "error_body",
]


class GatewayError(Exception):
    """An error a client sees: an HTTP status, a stable ``code`` and a message saying what to fix."""

    status: int = 500
    type: str = "api_error"
    code: str = "internal_error"
    #: What the operator's log gets and the client does not (an upstream's address, a library's
    #: words); set where the error is raised, logged with the request id where it is answered.
    log_detail: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.details = details

    def to_body(self, request_id: str | None = None) -> bytes:
        return error_body(self.type, self.code, self.message, request_id, self.details)


def error_body(
    type: str,
    code: str,
    message: str,
    request_id: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> bytes:
    error: dict[str, Any] = {"type": type, "code": code, "message": message, "request_id": request_id}
    if details:
        error["details"] = details
    return json.dumps({"error": error}).encode()


class BadRequest(GatewayError):
    status, type, code = 400, "invalid_request_error", "bad_request"


class Unauthorized(GatewayError):
    status, type, code = 401, "authentication_error", "invalid_api_key"


class PaymentRequired(GatewayError):
    status, type, code = 402, "insufficient_quota", "payment_required"


class Forbidden(GatewayError):
    status, type, code = 403, "permission_error", "forbidden"


class NotFound(GatewayError):
    status, type, code = 404, "not_found_error", "not_found"


class MethodNotAllowed(GatewayError):
    status, type, code = 405, "invalid_request_error", "method_not_allowed"


class Conflict(GatewayError):
    status, type, code = 409, "invalid_request_error", "conflict"


class PayloadTooLarge(GatewayError):
    status, type, code = 413, "invalid_request_error", "body_too_large"


class UnsupportedMediaType(GatewayError):
    status, type, code = 415, "invalid_request_error", "unsupported_media_type"


class MisdirectedRequest(GatewayError):
    status, type, code = 421, "invalid_request_error", "host_not_allowed"


class ValidationFailed(GatewayError):
    status, type, code = 422, "invalid_request_error", "validation_error"


class RateLimited(GatewayError):
    status, type, code = 429, "rate_limit_error", "rate_limited"


class HeadersTooLarge(GatewayError):
    status, type, code = 431, "invalid_request_error", "headers_too_large"


class PluginFailed(GatewayError):
    status, type, code = 500, "api_error", "plugin_error"


class UpstreamUnreachable(GatewayError):
    status, type, code = 502, "upstream_error", "upstream_unreachable"


class ServiceUnavailable(GatewayError):
    """A store or service the request needs cannot be reached right now (``store_unavailable``,
    ``plugin_unavailable``); the client may retry."""

    status, type, code = 503, "api_error", "service_unavailable"


class UpstreamTimeout(GatewayError):
    status, type, code = 504, "upstream_error", "upstream_timeout"


class LoopDetected(GatewayError):
    """A rule's target led back into this gateway: the request already carries its ``Via`` mark."""

    status, type, code = 508, "upstream_error", "loop_detected"


class ConfigError(Exception):
    """The config file or an environment override is invalid; the message names file and key."""


class PluginLoadError(Exception):
    """A plugin could not be loaded; ``name`` is its entry-point name, ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"plugin {name!r} failed to load: {reason}")
        self.name = name
        self.reason = reason
