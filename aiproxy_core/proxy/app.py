"""The Proxy API: a plain ASGI app, since every microsecond here is added to every call.

tenant (Host) -> key -> rule -> body -> pre_request -> upstream -> post_request -> pre_response
-> client (chunk by chunk when streamed) -> post_response (in the background).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from typing import TYPE_CHECKING, AsyncIterator

from starlette.datastructures import MutableHeaders

from ..auth import presented_key
from ..chain import CompiledChain, run_answering, run_chunk, run_post_response
from ..context import ProxyRequest, ProxyResponse, RequestContext
from ..errors import BadRequest, Forbidden, GatewayError, PayloadTooLarge, Unauthorized
from ..models import ApiKey, Consumer
from .headers import downstream_headers, upstream_request_headers
from .routing import Route, TenantView
from .streaming import sse_events
from .target import upstream_url

if TYPE_CHECKING:
    from ..gateway import Gateway

logger = logging.getLogger("aiproxy.proxy")

#: Plain upstream bodies up to this size are read whole and sent in one message (fewer syscalls);
#: larger, unsized or event-stream bodies are passed on chunk by chunk as they arrive.
WHOLE_BODY_LIMIT = 1024 * 1024
_ASGI = dict


class ClientDisconnected(Exception):
    pass


def error_response(exc: GatewayError, request_id: str) -> ProxyResponse:
    response = ProxyResponse(exc.status, dict(exc.headers), exc.to_body(request_id))
    response.headers["content-type"] = "application/json"
    return response


#: Request ids are this process's random prefix plus a counter: unique across processes without
#: an os.urandom call per request.
_ID_PREFIX = uuid.uuid4().hex[:16]
_id_counter = itertools.count(1)

#: The request headers the proxy itself reads, found in one pass over the raw list.
_WANTED = {b"host": 0, b"authorization": 1, b"x-api-key": 2, b"content-length": 3, b"x-request-id": 4}


def _core_headers(raw: list[tuple[bytes, bytes]]) -> list[str | None]:
    found: list[str | None] = [None, None, None, None, None]
    for name, value in raw:
        index = _WANTED.get(name)
        if index is not None and found[index] is None:
            found[index] = value.decode("latin-1")
    return found


def _request_id(given: str | None) -> str:
    if given and len(given) <= 200 and given.isprintable():
        return given
    return f"{_ID_PREFIX}{next(_id_counter):012x}"


class ProxyApp:
    def __init__(self, gateway: "Gateway") -> None:
        self.gateway = gateway
        self.max_body = gateway.config.server.max_body_bytes

    async def __call__(self, scope: _ASGI, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.gateway.serve_lifespan(receive, send)
            return
        started = time.perf_counter()
        headers = MutableHeaders(scope=scope)
        host, authorization, x_api_key, content_length, given_id = _core_headers(headers.raw)
        request_id = _request_id(given_id)
        ctx: RequestContext | None = None
        chain: CompiledChain | None = None
        try:
            gateway = self.gateway
            path = scope["path"]
            view, key, consumer, route = await self._admit(host, presented_key(authorization, x_api_key), path, scope["method"])
            chain = route.checked_chain()
            body = await self._read_body(content_length, receive)
            client = scope.get("client")
            request = ProxyRequest(
                scope["method"], path, scope["query_string"].decode("latin-1"), headers, body, client[0] if client else None
            )
            ctx = RequestContext(
                request_id,
                view.tenant,
                route.rule,
                key,
                request,
                upstream_url(route.rule, path),
                started,
                gateway.services,
                consumer,
            )
            response = await self._through_chain(ctx, chain, scope, host)
        except ClientDisconnected:
            return
        except GatewayError as exc:
            response = error_response(exc, request_id)
        await self._send(response, ctx, chain, request_id, send, receive)
        if ctx is not None and chain is not None and chain.post_response:
            ctx.response = response
            self.gateway.in_background(run_post_response(chain.post_response, ctx))

    async def _admit(self, host: str | None, raw_key: str | None, path: str, method: str) -> tuple[TenantView, ApiKey, Consumer | None, Route]:
        """Tenant (404), key of that tenant (401), its consumer, and the rule it may call (404/405/403)."""
        gateway = self.gateway
        view = await gateway.tenants.resolve(host)
        key = await gateway.auth.authenticate(view.tenant.id, raw_key)
        consumer = None
        if key.consumer_id is not None:
            consumer = await gateway.consumers.get(view.tenant.id, key.consumer_id)
            if consumer is None:
                raise Unauthorized("this key's consumer no longer exists", code="invalid_api_key")
        route = view.match(path, method)
        if key.scopes is not None and route.rule.id not in key.scopes:
            raise Forbidden(f"this key may not call {path}: its scopes do not include rule {route.rule.id}", code="key_scope_denied")
        return view, key, consumer, route

    async def _read_body(self, declared: str | None, receive) -> bytes:  # type: ignore[no-untyped-def]
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest("Content-Length must be a whole number", code="bad_content_length")
            if int(declared) > self.max_body:
                raise PayloadTooLarge(f"the request body is larger than the gateway's limit of {self.max_body} bytes")
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body = message.get("body", b"")
        if not message.get("more_body"):
            return body
        parts = [body]
        size = len(body)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"the request body is larger than the gateway's limit of {self.max_body} bytes")
            parts.append(chunk)
            if not message.get("more_body"):
                return b"".join(parts)

    async def _through_chain(self, ctx: RequestContext, chain: CompiledChain, scope: _ASGI, host: str | None) -> ProxyResponse:
        try:
            answer = await run_answering(chain.pre_request, ctx) if chain.pre_request else None
        except GatewayError as exc:
            answer = error_response(exc, ctx.request_id)
        if answer is None:
            ctx.response = await self._forward(ctx, chain, scope, host)
            if chain.post_request:
                await self._replace_with(chain.post_request, ctx)
        else:
            ctx.response = answer
        if chain.pre_response:
            await self._replace_with(chain.pre_response, ctx)
        return ctx.response

    async def _replace_with(self, steps, ctx: RequestContext) -> None:  # type: ignore[no-untyped-def]
        current = ctx.response
        try:
            replaced = await run_answering(steps, ctx)
        except GatewayError:
            await _discard(current)
            raise
        if replaced is not None and replaced is not current:
            await _discard(current)
            ctx.response = replaced

    async def _forward(self, ctx: RequestContext, chain: CompiledChain, scope: _ASGI, host: str | None) -> ProxyResponse:
        request = ctx.request
        rule = ctx.rule
        url = ctx.upstream_url
        if request.query_string:
            url = f"{url}?{request.query_string}"
        upstream_headers = upstream_request_headers(
            request.headers,
            client_ip=request.client_ip,
            host=host,
            scheme=scope.get("scheme", "http"),
            request_id=ctx.request_id,
            extra=rule.upstream_headers,
            identity_encoding=chain.reads_response,
        )
        upstream = await self.gateway.upstream.send(request.method, url, upstream_headers, request.body, rule.timeout)
        headers = downstream_headers(upstream.raw_headers)
        length = upstream.content_length
        if length is not None and length <= WHOLE_BODY_LIMIT and not upstream.content_type.startswith("text/event-stream"):
            return ProxyResponse(upstream.status, headers, await upstream.read())
        stream = upstream.iter_chunks()
        if chain.response_chunk and upstream.content_type.startswith("text/event-stream"):
            stream = sse_events(stream)
        return ProxyResponse(upstream.status, headers, stream=stream)

    async def _send(self, response: ProxyResponse, ctx: RequestContext | None, chain: CompiledChain | None, request_id: str, send, receive) -> None:  # type: ignore[no-untyped-def]
        headers = response.headers
        if ctx is not None and ctx.response_headers:
            for name, value in ctx.response_headers.items():
                headers[name] = value
        headers["x-request-id"] = request_id
        raw = headers.raw
        if response.stream is None:
            body = response.body or b""
            raw.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": raw})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        chunk_steps = chain.response_chunk if chain is not None else ()
        stream: AsyncIterator[bytes] = response.stream
        # The request body has been read, so the next message can only be http.disconnect: when
        # it comes, stop reading the upstream instead of paying for tokens nobody will see.
        disconnected = asyncio.ensure_future(receive())
        try:
            async for chunk in stream:
                if disconnected.done():
                    if ctx is not None:
                        ctx.annotations["client_disconnected"] = True
                    break
                if chunk_steps and ctx is not None:
                    chunk = await run_chunk(chunk_steps, ctx, chunk)
                    if not chunk:
                        continue
                response.streamed_bytes += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except GatewayError as exc:
            # Headers are gone already: all we can do is end the stream early and say why in the log.
            logger.warning("stream of request %s ended early: %s", request_id, exc.message)
        finally:
            disconnected.cancel()
            await _discard(response)
        await send({"type": "http.response.body", "body": b""})


async def _discard(response: ProxyResponse | None) -> None:
    """Release an upstream stream that will not be sent (its connection goes back or is dropped)."""
    if response is not None and response.stream is not None:
        aclose = getattr(response.stream, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:  # closing a broken upstream stream must not mask the real outcome
                logger.debug("closing an upstream stream failed", exc_info=True)


__all__ = ["ProxyApp", "error_response"]
