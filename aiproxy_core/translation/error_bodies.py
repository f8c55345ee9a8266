"""Error envelopes between the APIs, so a client's SDK raises its own exception with the upstream's
message: OpenAI's ``{"error": {"message", "type", "param", "code"}}`` and Anthropic's
``{"type": "error", "error": {"type", "message"}}``.

The SDKs pick the exception class by HTTP status (kept by the gateway); the type is mapped for
clients that read it. Anthropic's type goes to OpenAI's ``type`` (``api_error`` and
``overloaded_error`` are ``server_error``, ``request_too_large`` is ``invalid_request_error``) and
stays in ``code``, so nothing is lost. OpenAI's type maps to Anthropic's by the status first
(:data:`ANTHROPIC_TYPE_BY_STATUS`; other 4xx are ``invalid_request_error``, other 5xx ``api_error``).

The body is the upstream's and may be anything: non-JSON, an HTML error page, ``{"error": "text"}``,
FastAPI's ``{"detail": ...}``. The message is found where it can be, else a generic one saying the
status; these functions never raise.
"""

from __future__ import annotations

from typing import Any

from ..json_text import loads
from .json_output import json_bytes
from .loose_values import as_dict, as_list, as_text

__all__ = [
    "ANTHROPIC_TYPE_BY_STATUS",
    "anthropic_error_body",
    "anthropic_error_object",
    "openai_error_body",
    "openai_error_object",
]

ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_OPENAI_TYPE_BY_ANTHROPIC_TYPE = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "request_too_large": "invalid_request_error",
    "rate_limit_error": "rate_limit_error",
    "api_error": "server_error",
    "overloaded_error": "server_error",
}
#: OpenAI's types (and the names some compatible servers use) for a stream's error event, which
#: has no status of its own.
_ANTHROPIC_TYPE_BY_OPENAI_TYPE = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "rate_limit_error": "rate_limit_error",
    "rate_limit_exceeded": "rate_limit_error",
    "insufficient_quota": "rate_limit_error",
    "tokens": "rate_limit_error",
    "requests": "rate_limit_error",
    "server_error": "api_error",
    "overloaded": "overloaded_error",
}


def _parsed(body: bytes) -> Any:
    try:
        return loads(body)
    except (ValueError, RecursionError, TypeError):
        return None


def _message(parsed: Any, status: int | None) -> str:
    body = as_dict(parsed)
    error = body.get("error")
    for candidate in (as_dict(error).get("message"), error, body.get("message"), body.get("detail")):
        text = as_text(candidate).strip()
        if text:
            return text
    detail = [as_text(as_dict(item).get("msg")) for item in as_list(body.get("detail"))]
    if any(detail):
        return "; ".join(text for text in detail if text)
    if status is None:
        return "the upstream reported an error without a message"
    return f"the upstream answered with HTTP status {status} and no error message the gateway could read"


def _status_type(status: int) -> str:
    known = ANTHROPIC_TYPE_BY_STATUS.get(status)
    if known is not None:
        return known
    return "api_error" if status >= 500 or status < 400 else "invalid_request_error"


def openai_error_object(anthropic_error: object, status: int | None = None) -> dict[str, Any]:
    """The OpenAI ``error`` object for an Anthropic envelope (``{"type": "error", "error": ...}``) or
    its inner ``error``, as an Anthropic stream's ``error`` event carries it."""
    body = as_dict(anthropic_error)
    inner = as_dict(body.get("error")) if body.get("type") == "error" or "error" in body else body
    anthropic_type = as_text(inner.get("type"))
    openai_type = _OPENAI_TYPE_BY_ANTHROPIC_TYPE.get(anthropic_type)
    if openai_type is None:
        fallback = _status_type(status) if status is not None else "api_error"
        openai_type = _OPENAI_TYPE_BY_ANTHROPIC_TYPE[fallback]
    return {"message": _message(body, status), "type": openai_type, "param": None, "code": anthropic_type or None}


def anthropic_error_object(openai_error: object, status: int | None = None) -> dict[str, Any]:
    """Anthropic's envelope for an OpenAI error body (``{"error": {...}}``, or what else came)."""
    body = as_dict(openai_error)
    if status is not None:
        anthropic_type = _status_type(status)
    else:
        openai_type = as_text(as_dict(body.get("error")).get("type"))
        anthropic_type = _ANTHROPIC_TYPE_BY_OPENAI_TYPE.get(openai_type, "api_error")
    return {"type": "error", "error": {"type": anthropic_type, "message": _message(body, status)}}


def openai_error_body(status: int, anthropic_body: bytes) -> bytes:
    """An Anthropic upstream's error body (any bytes) as OpenAI's error envelope."""
    return json_bytes({"error": openai_error_object(_parsed(anthropic_body), status)})


def anthropic_error_body(status: int, openai_body: bytes) -> bytes:
    """An OpenAI upstream's error body (any bytes) as Anthropic's error envelope."""
    return json_bytes(anthropic_error_object(_parsed(openai_body), status))
