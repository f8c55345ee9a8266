"""The Admin API's front door: one pure-ASGI middleware around the Starlette app.

For every request, before any endpoint runs: a request id (the client's ``X-Request-ID`` when fit
to echo, else a fresh gateway id) that every answer carries as ``X-Request-ID`` and every error in
its envelope; the ``Host`` check (421); CORS for the listed origins only; the failed-credential
throttle (429); and the body's media type (415). Anything that still escapes the app becomes the
JSON envelope, never a text page.

Pure ASGI rather than ``BaseHTTPMiddleware``: it adds no task or stream per request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config.schema import ServerConfig
from ..errors import GatewayError, MisdirectedRequest, RateLimited, UnsupportedMediaType
from ..proxy.client_address import ClientAddresses
from ..request_ids import client_request_id, new_request_id
from .auth_throttle import AuthFailureThrottle
from .cors import CorsPolicy
from .host_names import HostNames
from .media_types import is_json, media_type
from .uploads import UploadRoute

__all__ = ["AdminGuard", "request_id_of"]

logger = logging.getLogger("aiproxy.admin")

#: Where the request id lives in the ASGI scope, for the app's error handlers.
REQUEST_ID_KEY = "aiproxy.request_id"

_WANTED = {
    b"host", b"content-type", b"content-length", b"transfer-encoding", b"origin", b"authorization",
    b"x-api-key", b"x-request-id", b"access-control-request-method",
}  # fmt: skip


def request_id_of(request: Request) -> str | None:
    """The id of this Admin API request (set by :class:`AdminGuard`)."""
    return request.scope.get(REQUEST_ID_KEY)


class AdminGuard:
    def __init__(self, app: ASGIApp, server: ServerConfig, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.hosts = HostNames(server.admin_hostnames)
        self.cors = CorsPolicy(server.admin_cors_origins)
        self.throttle = AuthFailureThrottle(server.admin_auth_failures_per_minute)
        # The same rule as the Proxy API: X-Forwarded-For counts only from a trusted proxy.
        self.addresses = ClientAddresses([str(network) for network in server.trusted_proxies])
        self.upload_routes = [route for route in routes if isinstance(route, UploadRoute)]

    # The wrapped Starlette app stays reachable (tests list its routes).
    @property
    def routes(self) -> list[BaseRoute]:
        return self.app.routes  # type: ignore[attr-defined,no-any-return]

    @property
    def state(self) -> Any:
        return self.app.state  # type: ignore[attr-defined]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, str] = {}
        hosts = 0
        forwarded_for: list[str] = []
        for name, value in scope["headers"]:
            if name in _WANTED:
                if name == b"host":
                    hosts += 1
                headers[name] = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
        peer = scope.get("client")
        address = self.addresses.client_of(peer[0] if peer else None, forwarded_for) or "unknown"
        request_id = client_request_id(headers.get(b"x-request-id")) or new_request_id()
        scope[REQUEST_ID_KEY] = request_id
        id_header = (b"x-request-id", request_id.encode("latin-1"))  # the bytes the client sent
        origin = headers.get(b"origin")
        cors_headers = self._cors_headers(origin)

        refusal = self._host_refusal(headers.get(b"host"), hosts)
        if refusal is None and origin is not None and scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            if self.cors.allows(origin):
                await _answer(send, 204, b"", [*self.cors.preflight_headers(origin), id_header])
                return
        if refusal is None:
            refusal = self._request_refusal(scope, headers, address)
        if refusal is not None:
            await _answer(send, refusal.status, refusal.to_body(request_id), [*_error_headers(refusal), id_header, *cors_headers])
            return

        presented = bool(headers.get(b"authorization") or headers.get(b"x-api-key"))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if presented and message["status"] == 401:
                    self.throttle.failed(address)
                message["headers"] = [*message.get("headers", ()), id_header, *cors_headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                return  # the app's handler answered (the envelope) and logged it
            logger.exception("Admin API error on %s %s (request %s)", scope["method"], scope["path"], request_id)
            error = GatewayError(f"the gateway hit an unexpected error; its log has the details under request id {request_id}")
            await _answer(send, 500, error.to_body(request_id), [*_error_headers(error), id_header, *cors_headers])

    def _cors_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if not self.cors.enabled:
            return []
        vary = [(b"vary", b"Origin")]  # the answer depends on Origin once any origin is listed
        return self.cors.response_headers(origin) + vary if origin is not None and self.cors.allows(origin) else vary

    def _host_refusal(self, host: str | None, hosts: int) -> GatewayError | None:
        if hosts == 1 and self.hosts.allows(host):
            return None
        shown = "no Host header" if host is None else "two Host headers" if hosts > 1 else f"the host name {host[:100]!r}"
        return MisdirectedRequest(f"this Admin API does not answer to {shown}; call it by a name listed in server.admin_hostnames")

    def _request_refusal(self, scope: Scope, headers: dict[bytes, str], address: str) -> GatewayError | None:
        """The throttle, then the body's media type."""
        presented = headers.get(b"authorization") or headers.get(b"x-api-key")
        if presented:
            wait = self.throttle.retry_after(address)
            if wait is not None:
                return RateLimited(
                    "too many failed admin-token or API-key attempts from this address "
                    f"(at most {self.throttle.failures_per_minute} a minute); wait {wait} s (Retry-After) and check the token",
                    code="too_many_auth_failures",
                    headers={"Retry-After": str(wait)},
                )
        content_type = headers.get(b"content-type")
        has_body = headers.get(b"content-length", "0").strip() not in ("0", "") or b"transfer-encoding" in headers
        if has_body and not (content_type is not None and is_json(content_type)):
            return self._upload_refusal(scope, content_type, bool(presented))
        return None

    def _upload_refusal(self, scope: Scope, content_type: str | None, presented: bool) -> GatewayError | None:
        kind = media_type(content_type) if content_type else ""
        for route in self.upload_routes:
            if kind in route.media_types and route.matches(scope)[0] is Match.FULL:
                if presented:
                    return None
                return UnsupportedMediaType(
                    f"a {kind} body is accepted only with an Authorization (or X-API-Key) header; send the key or token"
                )
        shown = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        return UnsupportedMediaType(f"the Admin API takes request bodies as application/json, not {shown}")


def _error_headers(error: GatewayError) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
    ]


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
