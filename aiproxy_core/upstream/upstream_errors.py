"""The errors the upstream client raises, worded for a consumer, with details for the operator.

A consumer is told "the upstream of this route ..." and nothing more: no URL, credential, address
or library name. What an operator needs (the target's origin without userinfo, path or query, and
what failed) is on the exception's ``log_detail``, for the log line with the request id.
"""

from __future__ import annotations

from ..errors import Forbidden, GatewayError, UpstreamTimeout, UpstreamUnreachable
from .target_policy import split_origin

NOT_ALLOWED_MESSAGE = (
    "the upstream of this route is not an address this gateway may connect to; "
    "the route's owner must point it at an allowed target"
)


class TargetRefused(Exception):
    """Every address of a target's host is refused by the target policy; becomes a 403."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UpstreamProtocolError(Exception):
    """The upstream answered with bytes that are not HTTP/1.1 (or closed the connection mid-answer)."""


def target_not_allowed(detail: str) -> Forbidden:
    error = Forbidden(NOT_ALLOWED_MESSAGE, code="target_not_allowed")
    error.log_detail = detail
    return error


def safe_origin(url: str) -> str:
    """scheme://host:port of ``url``: no userinfo, path or query (those may hold credentials)."""
    scheme, host, port = split_origin(url)
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"


def _scrubbed(text: str, url: str) -> str:
    """An exception's text with the URL (and any userinfo) replaced by its safe origin."""
    text = text.replace(url, safe_origin(url))
    userinfo = url.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
    return text.replace(userinfo + "@", "") if userinfo else text


def upstream_error(exc: BaseException, url: str) -> GatewayError:
    """The consumer-facing error for a failure talking to ``url``'s upstream."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, TargetRefused):
        return target_not_allowed(f"{safe_origin(url)}: {exc.detail}")
    error: GatewayError
    if isinstance(exc, TimeoutError):
        error = UpstreamTimeout("the upstream of this route did not answer in time")
    else:
        error = UpstreamUnreachable("the upstream of this route is unreachable")
    error.log_detail = f"{safe_origin(url)}: {type(exc).__name__}: {_scrubbed(str(exc), url)}"
    return error
