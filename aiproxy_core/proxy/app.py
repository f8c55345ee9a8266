"""The Proxy API: a plain ASGI app, since every microsecond here is added to every call.

tenant (Host) -> key -> rule -> body -> pre_request -> upstream -> post_request -> pre_response
-> client (chunk by chunk when streamed) -> post_response (in the background).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Coroutine

from starlette.datastructures import MutableHeaders
from starlette.types import Receive, Scope, Send

from ..auth import presented_key
from ..chain import CompiledChain, run_answering, run_chunk, run_post_response, run_post_response_now
from ..context import ProxyRequest, ProxyResponse, RequestContext
from ..errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    LoopDetected,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from ..models import ApiKey, Consumer
from ..models.rule import TENANT_PAGES_PREFIX
from ..request_ids import client_request_id, new_request_id
from ..state_keys import INTERRUPTED, TTFT_MS
from ..store.base import STORE_UNREACHABLE, UNAVAILABLE_RETRY_AFTER
from .access_log import AccessLog
from .client_address import ClientAddresses
from .disconnect import ClientDisconnected, DisconnectWatch
from .headers import upstream_request_headers
from .request_path import RequestPath, request_path
from .streaming import discard
from .routing import Route, TenantView, host_name
from .stream_end import interrupted_stream_event

if TYPE_CHECKING:
    from ..auth import ConsumerDirectory, KeyAuthenticator
    from ..config import ServerConfig
    from ..metrics import RequestMetrics
    from ..services import GatewayServices
    from ..chain import Step
    from ..routing import Router
    from ..tracing.gateway_tracing import GatewayTracing
    from ..tracing.request_trace import RequestTrace
    from ..tenant_pages import TenantPages
    from ..upstream import UpstreamClient
    from .routing import TenantDirectory

logger = logging.getLogger("aiproxy.proxy")

#: The status recorded for post_response hooks when the client left before its answer (nginx's 499).
CLIENT_CLOSED_REQUEST = 499


class ErrorResponse(ProxyResponse):
    """The gateway's own error envelope, its ``code`` kept for the access log (an upstream's error
    body may look the same, so the body alone cannot tell whose it is)."""

    __slots__ = ("error_code",)

    def __init__(self, exc: GatewayError, request_id: str) -> None:
        super().__init__(exc.status, dict(exc.headers), exc.to_body(request_id))
        self.headers["content-type"] = "application/json"
        self.error_code = exc.code


def error_response(exc: GatewayError, request_id: str) -> ProxyResponse:
    return ErrorResponse(exc, request_id)


#: The request headers the proxy itself reads, found in one pass over the raw list.
_WANTED = {b"host": 0, b"authorization": 1, b"x-api-key": 2, b"content-length": 3, b"x-request-id": 4, b"via": 5}


def _core_headers(raw: list[tuple[bytes, bytes]]) -> list[str | None]:
    found: list[str | None] = [None, None, None, None, None, None]
    for name, value in raw:
        index = _WANTED.get(name)
        if index is not None:
            if found[index] is None:
                found[index] = value.decode("latin-1")
            elif index == 0:
                raise BadRequest("the request has two Host headers; send one", code="duplicate_host")
            elif index == 5:  # several Via headers are one list (RFC 9110 §5.3)
                found[5] = f"{found[5]}, {value.decode('latin-1')}"
    return found


class ProxyApp:
    """The Proxy API as an ASGI app, given the collaborators it uses (the Gateway builds them):
    it knows nothing of the Gateway itself, so there is no dependency both ways."""

    #: Set by the gateway's own listeners (``listener_configs``): both of their protocols write an
    #: answer and go on with the connection's next request before the app returns, so an async
    #: chain's post_response can run in the request's own task. An in-process ASGI client (httpx's
    #: ASGITransport, the SDK's GatewayHarness) hands the answer over only once the app returns:
    #: there the hooks run in a background task, or they would delay the answer.
    post_response_in_task = False

    def __init__(
        self,
        *,
        server: ServerConfig,
        gateway_id: str,
        tenants: TenantDirectory,
        auth: KeyAuthenticator,
        consumers: ConsumerDirectory,
        upstream: UpstreamClient,
        router: Router,
        services: GatewayServices,
        in_background: Callable[[Coroutine[Any, Any, Any]], None],
        lifespan: Callable[[Receive, Send], Awaitable[None]] | None = None,
        access_log: AccessLog | None = None,
        metrics: RequestMetrics | None = None,
        tracing: GatewayTracing | None = None,
    ) -> None:
        self.tenants = tenants
        self.auth = auth
        self.consumers = consumers
        self.upstream = upstream
        self.router = router
        self.services = services
        self.in_background = in_background
        self.lifespan = lifespan
        #: The JSON access log, or None when it is off (then its whole cost is this one check).
        self.access_log = access_log
        #: ``GET /metrics``'s per-request figures, or None when metrics are off.
        self.metrics = metrics
        #: OpenTelemetry spans, or None when tracing is off (then, like the access log, its whole
        #: cost is one check per place: here at arrival, ``ctx.trace`` in the chain and router).
        self.tracing = tracing
        #: ``/-/...``: the tenant's own pages (docs, portal), served before any key or rule.
        self.tenant_pages: TenantPages | None = None
        self.max_body = server.max_body_bytes
        self.addresses = ClientAddresses(server.trusted_proxies)
        #: This deployment's mark in ``Via``: a request that already carries it came back in a loop.
        self.via_mark = gateway_id
        self.via_entry = f"1.1 {gateway_id}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.lifespan is not None:
                await self.lifespan(receive, send)
            return
        started = time.perf_counter()
        request_id = new_request_id()
        shown_id = request_id
        client_id: str | None = None
        view: TenantView | None = None
        response: ProxyResponse | None = None
        ctx: RequestContext | None = None
        chain: CompiledChain | None = None
        watch: DisconnectWatch | None = None
        trace: RequestTrace | None = None
        if self.tracing is not None:  # the span starts at arrival; its attributes are read at its end
            client = scope.get("client")
            trace = self.tracing.start_request(scope, self.addresses.is_trusted(client[0] if client else None))
        try:
            headers = MutableHeaders(scope=scope)
            host, authorization, x_api_key, content_length, given_id, via = _core_headers(headers.raw)
            client_id = client_request_id(given_id)
            if client_id is not None:
                shown_id = client_id
            if via is not None and self.via_mark in via:
                raise LoopDetected(
                    "this request has already passed through this gateway: a rule's target leads back to the gateway; "
                    "point the rule at the real upstream",
                )
            path = request_path(scope.get("raw_path") or scope["path"].encode("utf-8"))
            view = await self.tenants.resolve(host)  # kept out here: a refused key's log line names the tenant
            if self.tenant_pages is not None and path.decoded.startswith(TENANT_PAGES_PREFIX):
                await self.tenant_pages.serve(view, scope, receive, send)
                return
            key, consumer, route = await self._admit(view, presented_key(authorization, x_api_key), path.decoded, scope["method"])
            chain = route.checked_chain()
            body = await self._read_body(content_length, receive)
            watch = DisconnectWatch(receive)
            client = scope.get("client")
            peer = client[0] if client else None
            request = ProxyRequest(
                scope["method"], path.decoded, scope["query_string"].decode("latin-1"), headers, body, self._client_ip(peer, headers),
                via_trusted_proxy=self.addresses.is_trusted(peer),
            )
            first_url = route.target.url(path, request.query_string)
            ctx = RequestContext(
                request_id=request_id,
                client_request_id=client_id,
                tenant=view.tenant,
                rule=route.rule,
                api_key=key,
                consumer=consumer,
                request=request,
                upstream_url=first_url,
                started_at=started,
                services=self.services,
                scheme=self._scheme(scope, headers),
                host=host_name(host),
            )
            ctx.trace = trace
            response = await self._through_chain(ctx, chain, scope, host, watch, route, path, first_url)
        except ClientDisconnected:
            if watch is not None:
                watch.close()
            if ctx is not None and chain is not None and chain.post_response:
                ctx.annotations["client_disconnected"] = True
                ctx.annotations[INTERRUPTED] = "client"
                ctx.response = ProxyResponse(CLIENT_CLOSED_REQUEST, None, b"")
            if self.access_log is not None:
                self._log_access(self.access_log, started, request_id, client_id, scope, ctx, view, None)
            if self.metrics is not None:
                self.metrics.record(started, CLIENT_CLOSED_REQUEST, view.tenant.id if view is not None else "", ctx, None)
            if trace is not None:
                trace.end(scope, ctx, view.tenant if view is not None else None, None, CLIENT_CLOSED_REQUEST)
            if ctx is not None and chain is not None and chain.post_response:
                await self._after_response(chain, ctx)  # last, as on an answered request: the log and metrics do not wait
            return
        except GatewayError as exc:
            response = error_response(exc, shown_id)
        except Exception as exc:  # the envelope, always; the traceback goes to the log only
            response = error_response(self._unexpected(exc, request_id), shown_id)
        try:
            await self._send(response, ctx, chain, shown_id, send, watch)
        finally:
            if watch is not None:
                watch.close()
            if self.access_log is not None:  # after the last byte: the line costs the client nothing
                self._log_access(self.access_log, started, request_id, client_id, scope, ctx, view, response)
            if self.metrics is not None:
                self.metrics.record(started, response.status, view.tenant.id if view is not None else "", ctx, response)
            if trace is not None:  # after the last byte too: a stream's span covers the stream
                trace.end(scope, ctx, view.tenant if view is not None else None, response, response.status)
        if ctx is not None and chain is not None and chain.post_response:
            ctx.response = response
            await self._after_response(chain, ctx)

    async def _after_response(self, chain: CompiledChain, ctx: RequestContext) -> None:
        """post_response, once the answer is out (or the client left), with no task per request
        where that can be: called inline when its hooks are all plain ``def``; awaited in the
        request's own task behind the gateway's listeners (:attr:`post_response_in_task`: the
        connection's next request is already being served); else in a background task, as for
        traced requests (their stage is a span that may end after the request's)."""
        if ctx.trace is None and chain.post_response_now:
            run_post_response_now(chain.post_response, ctx)
        elif ctx.trace is None and self.post_response_in_task:
            await run_post_response(chain.post_response, ctx)
        else:
            self.in_background(_post_response(chain.post_response, ctx))

    def _log_access(
        self, access_log: AccessLog, started: float, request_id: str, client_id: str | None, scope: Scope,
        ctx: RequestContext | None, view: TenantView | None, response: ProxyResponse | None,
    ) -> None:
        """``response`` None: the client left before anything was sent."""
        try:
            if ctx is not None:
                client_ip = ctx.request.client_ip
            else:
                client = scope.get("client")
                client_ip = self._client_ip(client[0] if client else None, MutableHeaders(scope=scope))
        except Exception:  # headers the request was refused for: the log goes on without the address
            client_ip = None
        access_log.write(
            started=started,
            request_id=request_id,
            client_request_id=client_id,
            # uvicorn's decoded path: never the query string, which may carry a key.
            method=scope["method"],
            path=scope["path"],
            status=response.status if response is not None else CLIENT_CLOSED_REQUEST,
            client_ip=client_ip,
            ctx=ctx,
            tenant=view.tenant if view is not None else None,
            response=response,
        )

    def _scheme(self, scope: Scope, headers: MutableHeaders) -> str:
        scheme: str = scope.get("scheme", "http")
        if not self.addresses.any_trusted:
            return scheme
        client = scope.get("client")
        return self.addresses.scheme_of(client[0] if client else None, headers.get("x-forwarded-proto"), scheme)

    def _client_ip(self, peer: str | None, headers: MutableHeaders) -> str | None:
        addresses = self.addresses
        if not addresses.any_trusted:
            return peer
        return addresses.client_of(peer, headers.getlist("x-forwarded-for"))

    @staticmethod
    def _unexpected(exc: Exception, request_id: str) -> GatewayError:
        if isinstance(exc, STORE_UNREACHABLE):
            logger.warning("request %s: the store is unreachable: %s: %s", request_id, type(exc).__name__, exc)
            return ServiceUnavailable(
                "the gateway cannot reach its store right now; retry in a few seconds",
                code="store_unavailable",
                headers={"retry-after": UNAVAILABLE_RETRY_AFTER},
            )
        logger.exception("request %s: unexpected error in the proxy", request_id)
        return GatewayError(f"the gateway hit an unexpected error; its log has the details under request id {request_id}")

    async def _admit(self, view: TenantView, raw_key: str | None, path: str, method: str) -> tuple[ApiKey, Consumer | None, Route]:
        """Key of the tenant (401), its consumer, and the rule it may call (404/405/403)."""
        key = await self.auth.authenticate(view.tenant.id, raw_key)
        consumer = None
        if key.consumer_id is not None:
            consumer = await self.consumers.get(view.tenant.id, key.consumer_id)
            if consumer is None:
                raise Unauthorized("this key's consumer no longer exists", code="invalid_api_key")
        route = view.match(path, method)
        if key.scopes is not None and route.rule.id not in key.scopes:
            raise Forbidden(f"this key may not call {path}: its scopes do not include rule {route.rule.id}", code="key_scope_denied")
        return key, consumer, route

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is larger than the gateway's limit of {self.max_body} bytes")

    async def _read_body(self, declared: str | None, receive: Receive) -> bytes:
        limit = self.max_body
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest("Content-Length must be a whole number", code="bad_content_length")
            if int(declared) > limit:
                raise self._too_large()
        # The gateway's own listener hands over a body that has all arrived in one call.
        whole_body = getattr(getattr(receive, "__self__", None), "whole_body", None)
        whole: bytes | None = whole_body() if whole_body is not None else None
        if whole is not None:
            if len(whole) > limit:
                raise self._too_large()
            return whole
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body: bytes = message.get("body", b"")
        size = len(body)
        if size > limit:  # a chunked body has no Content-Length to refuse it by
            raise self._too_large()
        if not message.get("more_body"):
            return body
        parts = [body]
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._too_large()
            parts.append(chunk)
            if not message.get("more_body"):
                return b"".join(parts)

    async def _through_chain(
        self, ctx: RequestContext, chain: CompiledChain, scope: Scope, host: str | None, watch: DisconnectWatch, route: Route, path: RequestPath,
        first_url: str,
    ) -> ProxyResponse:
        try:
            answer = await _answering(chain.pre_request, ctx) if chain.pre_request else None
        except GatewayError as exc:
            answer = error_response(exc, ctx.client_request_id or ctx.request_id)
        if answer is None:
            ctx.response = await self._forward(ctx, chain, scope, host, watch, route, path, first_url)
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
            replaced = await _answering(steps, ctx)
        except GatewayError:
            await discard(current)
            raise
        if replaced is not None and replaced is not current:
            await discard(current)
            ctx.response = replaced

    def _forward(
        self, ctx: RequestContext, chain: CompiledChain, scope: Scope, host: str | None, watch: DisconnectWatch, route: Route, path: RequestPath,
        first_url: str,
    ) -> Awaitable[ProxyResponse]:
        """The router's answer (its coroutine, awaited by the caller: no coroutine of its own in between)."""
        request = ctx.request
        rule = ctx.rule
        client = scope.get("client")
        peer = client[0] if client else None
        upstream_headers = upstream_request_headers(
            request.headers,
            client_ip=request.client_ip,
            peer=peer,
            peer_trusted=self.addresses.is_trusted(peer),
            host=host,
            scheme=scope.get("scheme", "http"),
            request_id=ctx.client_request_id or ctx.request_id,
            extra=rule.upstream_headers,
            identity_encoding=chain.reads_response,
            via=self.via_entry,
        )
        # A plugin that pointed ctx.upstream_url elsewhere sends there, once (no routing).
        overridden = None if ctx.upstream_url is first_url else ctx.upstream_url
        return self.router.forward(ctx, route.plan, path, upstream_headers, watch, bool(chain.response_chunk), overridden)

    async def _send(self, response: ProxyResponse, ctx: RequestContext | None, chain: CompiledChain | None, shown_id: str, send: Send, watch: DisconnectWatch | None) -> None:
        # The gateway's own headers replace any of the same name, in one pass over the list
        # (MutableHeaders' item assignment scans it once per header).
        raw = response.headers.raw
        own = [(b"x-request-id", shown_id.encode("latin-1"))]
        if ctx is not None and ctx.response_headers:
            own += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in ctx.response_headers.items()]
        names = {name for name, _ in own}
        raw[:] = [pair for pair in raw if pair[0] not in names]
        raw += own
        if response.stream is None:
            body = response.body or b""
            raw.append((b"content-length", str(len(body)).encode()))
            # The gateway's own listener takes a whole answer in one call (server/proxy_protocol.py).
            answer = getattr(getattr(send, "__self__", None), "answer", None)
            if answer is None or not answer(response.status, raw, body):
                await send({"type": "http.response.start", "status": response.status, "headers": raw})
                await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        chunk_steps = chain.response_chunk if chain is not None else ()
        chunk_runner = run_chunk
        if chunk_steps and ctx is not None and ctx.trace is not None:  # once per stream: counts the chunks
            chunk_runner = ctx.trace.run_chunk
        stream: AsyncIterator[bytes] = response.stream
        failure: BaseException | None = None
        try:
            while True:
                try:
                    chunk = await (watch.upstream(stream.__anext__()) if watch is not None else stream.__anext__())
                except StopAsyncIteration:
                    break
                if chunk_steps and ctx is not None:
                    chunk = await chunk_runner(chunk_steps, ctx, chunk)
                    if not chunk:
                        continue
                if not response.streamed_bytes and ctx is not None:  # time to the first byte of a streamed answer
                    ctx.annotations[TTFT_MS] = round((time.perf_counter() - ctx.started_at) * 1000, 3)
                response.streamed_bytes += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except ClientDisconnected:
            if ctx is not None:
                ctx.annotations["client_disconnected"] = True
                ctx.annotations[INTERRUPTED] = "client"
            return
        except Exception as exc:  # the upstream broke off, timed out, or a chunk hook failed
            failure = exc
        finally:
            await discard(response)
        if failure is None:
            await send({"type": "http.response.body", "body": b""})
            return
        self._log_interruption(failure, ctx, shown_id)
        if ctx is not None:
            ctx.annotations[INTERRUPTED] = "upstream"
        if response.is_event_stream:
            # Headers and part of the answer are gone: the last event says it is cut off, and no
            # [DONE] follows, so an OpenAI-style client raises instead of returning half an answer.
            if ctx is not None:
                event = interrupted_stream_event(ctx.request_id, ctx.rule.client_format)
            else:
                event = interrupted_stream_event(shown_id)
            await send({"type": "http.response.body", "body": event})
            return
        # Any other body ends without its last chunk: the server drops the connection, and the
        # client sees a broken transfer, never a complete one.

    @staticmethod
    def _log_interruption(failure: BaseException, ctx: RequestContext | None, shown_id: str) -> None:
        request_id = ctx.request_id if ctx is not None else shown_id
        detail = getattr(failure, "log_detail", None) or f"{type(failure).__name__}: {failure}"
        if isinstance(failure, GatewayError):
            logger.warning("request %s: the answer was cut off: %s", request_id, detail)
        else:
            logger.error("request %s: the answer was cut off by an unexpected error", request_id, exc_info=failure)


def _answering(steps: tuple[Step, ...], ctx: RequestContext) -> Awaitable[ProxyResponse | None]:
    """:func:`run_answering`, in a span of its stage (and one per step) when the request is traced."""
    trace = ctx.trace
    if trace is None:
        return run_answering(steps, ctx)
    return trace.stage(steps, run_answering(steps, ctx, trace.call_step))


def _post_response(steps: tuple[Step, ...], ctx: RequestContext) -> Coroutine[Any, Any, None]:
    """:func:`run_post_response`, traced like :func:`_answering` (its span a child of the request's,
    possibly ending after it: it runs in the background once the answer is sent)."""
    trace = ctx.trace
    if trace is None:
        return run_post_response(steps, ctx)
    return trace.stage(steps, run_post_response(steps, ctx, trace.call_step))


__all__ = ["ErrorResponse", "ProxyApp", "error_response"]
