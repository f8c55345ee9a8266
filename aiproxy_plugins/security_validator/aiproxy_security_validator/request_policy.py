"""The envelope checks: client address, method, body size, content type and required headers.

Each raises the gateway's own error with a stable ``code`` and ``details`` naming the check, so a
client (and whoever reads the log) can tell which rule refused the request.
"""

from __future__ import annotations

from typing import Any, Sequence

from aiproxy_core import BadRequest, Forbidden, MethodNotAllowed, PayloadTooLarge, ProxyRequest

from .addresses import Address, parse_address, within
from .settings import SecurityValidatorSettings

__all__ = [
    "PLUGIN_NAME",
    "check_body_size",
    "check_client_address",
    "check_content_type",
    "check_method",
    "check_required_headers",
    "media_type",
    "refusal_details",
]

PLUGIN_NAME = "security_validator"


def refusal_details(check: str, **facts: Any) -> list[dict[str, Any]]:
    return [{"plugin": PLUGIN_NAME, "check": check, **facts}]


def check_client_address(request: ProxyRequest, settings: SecurityValidatorSettings) -> Address:
    """Apply ``deny_ips`` then ``allow_ips`` to the client the core found; deny wins over allow.

    ``X-Forwarded-For`` is not read here: the core believes it only from the operator's
    ``server.trusted_proxies`` and puts the result in ``client_ip``.
    """
    address = parse_address(request.client_ip)
    if address is None:
        # Lists are configured and we cannot tell who is asking: failing open would let anyone in.
        raise Forbidden(
            "the client address could not be determined, so the IP policy refuses the request",
            code="ip_not_allowed",
            details=refusal_details("ip_policy", client_ip=None),
        )
    if within(address, settings.deny_ips):
        _refuse_address(address, "deny_ips", "is in the deny list")
    if settings.allow_ips is not None and not within(address, settings.allow_ips):
        _refuse_address(address, "allow_ips", "is not in the allow list")
    return address


def _refuse_address(address: Address, check: str, why: str) -> None:
    raise Forbidden(
        f"client address {address} {why}",
        code="ip_not_allowed",
        details=refusal_details(check, client_ip=str(address)),
    )


def check_method(request: ProxyRequest, allowed: Sequence[str]) -> None:
    if request.method not in allowed:
        # 405 with Allow (RFC 9110 §15.5.6) tells a client what would have been accepted.
        raise MethodNotAllowed(
            f"method {request.method} is not allowed by this route's security policy; allowed: {', '.join(allowed)}",
            code="method_not_allowed_by_policy",
            headers={"Allow": ", ".join(allowed)},
            details=refusal_details("allowed_methods", method=request.method, allowed=list(allowed)),
        )


def check_body_size(request: ProxyRequest, limit: int) -> None:
    size = len(request.body)
    if size > limit:
        raise PayloadTooLarge(
            f"the request body has {size} bytes; this route accepts at most {limit}",
            code="body_too_large",
            details=refusal_details("max_body_bytes", size=size, limit=limit),
        )


def media_type(content_type: str | None) -> str | None:
    """``application/json`` from ``Application/JSON; charset=utf-8``."""
    if content_type is None:
        return None
    kind = content_type.partition(";")[0].strip().lower()
    return kind or None


def _accepts(allowed: Sequence[str], kind: str) -> bool:
    family = kind.partition("/")[0] + "/*"
    return kind in allowed or family in allowed


def check_content_type(request: ProxyRequest, allowed: Sequence[str]) -> None:
    """A request with neither a body nor a Content-Type has nothing to type, so it passes."""
    kind = media_type(request.headers.get("content-type"))
    if kind is None and not request.body:
        return
    if kind is None or not _accepts(allowed, kind):
        shown = kind or "no Content-Type"
        raise BadRequest(
            f"content type {shown} is not allowed on this route; allowed: {', '.join(allowed)}",
            code="content_type_not_allowed",
            details=refusal_details("allowed_content_types", content_type=kind, allowed=list(allowed)),
        )


def check_required_headers(request: ProxyRequest, names: Sequence[str]) -> None:
    # An empty value carries no information, so it counts as missing (e.g. "X-Request-ID:").
    missing = [name for name in names if not request.headers.get(name, "").strip()]
    if missing:
        raise BadRequest(
            f"missing required header{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
            code="missing_required_header",
            details=refusal_details("required_headers", missing=missing),
        )

