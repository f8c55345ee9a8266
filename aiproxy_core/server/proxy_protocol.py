"""The Proxy listener's own HTTP/1.1 protocol: httptools parsing, the header limits, and ASGI to
the app with as little per request as HTTP/1.1 allows.

Measured with callgrind (bench/callgrind.sh, the same count on every run), the gateway's empty
chain takes 585 k instructions per request on this protocol and 653 k on uvicorn's httptools
protocol with the same limits (:mod:`.http_protocol`, which subclasses it and swaps in a leaner
answer cycle). What uvicorn's does that a proxy does not need per request: an ``asyncio.Event`` per
request (the disconnect signal the proxy hooks into is one more), a cycle object of sixteen fields,
a copy of the app state, a callback per finished task, a keep-alive timer made and cancelled per
request, and ``super()`` calls through each parser callback for the limits. For scale, a bare
asyncio protocol answering a fixed response with a task per request takes ~33 k; this one around a
trivial ASGI app ~110 k, about uvicorn's own; the rest is the app. This class keeps uvicorn's
*server* (sockets, workers, graceful shutdown: it is plugged in as ``uvicorn.Config(http=...)``)
and its behaviour on the wire, and does per request:

- the parser callbacks, counting the header block against the limits as they go;
- one scope dict, one :class:`_Exchange` (five attributes set, the rest class defaults), one task
  running the app, which removes itself from the server's task set (no done callback);
- on the answer: header names and values checked with one pass each over all of them joined; a
  whole answer given in one call (:meth:`_Exchange.answer`, the Proxy API's way for answers that
  are not streamed) or, through ASGI, the head held until its body so both leave in one write (a
  content-length answer); chunks framed as they come (a stream); the keep-alive timer is armed
  once per idle period, not per request.

The limits and refusals are those of the uvicorn protocol (:mod:`.http_protocol`), answered the
same way (:mod:`.refusals`): ``header_timeout``, ``max_header_bytes``, ``max_header_count``, two
``Host`` headers, upgrades, CONNECT, unparseable requests. ``server.proxy_server: uvicorn`` runs the
Proxy listener on uvicorn's protocol with those limits instead (the Admin listener always does).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections import deque
from typing import Any, Awaitable, Callable

import httptools
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from ..errors import GatewayError
from ..request_ids import new_request_id
from .header_limits import HeaderLimits, HttpLimits
from .answer_head import answer_head, check_body_message, framed_body
from .refusals import refusal_bytes

__all__ = ["ProxyHttpProtocol", "proxy_protocol"]

logger = logging.getLogger("aiproxy.server")

#: Request body buffered before reading from the client pauses (uvicorn's HIGH_WATER_LIMIT).
_BODY_HIGH_WATER = 65536
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Exchange:
    """One request and its answer: what the app's ``receive`` and ``send`` work on. Most fields
    start as class defaults, so making one sets five attributes, not seventeen."""

    more_body = True
    disconnected = False
    response_started = False
    response_complete = False
    #: None until the answer's head says: True (chunked) or False (Content-Length).
    chunked: bool | None = None
    expected_length = 0
    head_only = False
    #: The whole body was given to the app: from then on only the end of the exchange is news.
    body_given = False
    #: The head of a content-length answer, waiting for its body (one write for both).
    held_head: bytes | None = None
    #: The future ``receive`` waits on for more body or the end of the exchange.
    waiter: asyncio.Future[None] | None = None
    #: Called when the client disconnects (:meth:`on_disconnect`).
    listener: Callable[[], None] | None = None
    #: The task running the app for it.
    task: asyncio.Task[None] | None = None

    def __init__(self, scope: dict[str, Any], connection: ProxyHttpProtocol, keep_alive: bool, expect_continue: bool) -> None:
        self.scope = scope
        self.connection = connection
        self.transport = connection.transport
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.body = bytearray()

    # --- what the protocol tells it -------------------------------------------------------------

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def lost(self) -> None:
        """The connection closed."""
        if not self.response_complete:
            self.disconnected = True
            listener = self.listener
            if listener is not None:
                listener()
        self.wake()

    # --- the disconnect watch (proxy/disconnect.py) ------------------------------------------------

    def on_disconnect(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` when the client leaves (at once if it has); None stops it. How the
        Proxy API hears a disconnect without a task per request waiting on ``receive``."""
        self.listener = listener
        if listener is not None and self.disconnected:
            listener()

    def whole_body(self) -> bytes | None:
        """The request's whole body when all of it has arrived and none was given yet: what
        ``receive`` would return first, without a coroutine and a message (the Proxy API's common
        case). None otherwise (more is on its way, a 100-continue is owed, the client left): the
        caller uses ``receive``."""
        if self.more_body or self.body_given or self.expect_continue or self.disconnected:
            return None
        self.body_given = True
        body = bytes(self.body)
        self.body = bytearray()
        return body

    # --- ASGI ------------------------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        if self.expect_continue:
            self.expect_continue = False
            if not self.transport.is_closing():
                self.transport.write(_CONTINUE)
        while not (self.disconnected or self.response_complete):
            if self.body or (not self.more_body and not self.body_given):
                body = bytes(self.body)
                self.body = bytearray()
                if not self.more_body:
                    self.body_given = True
                return {"type": "http.request", "body": body, "more_body": self.more_body}
            self.connection.resume_reading()
            waiter = self.waiter = self.connection.loop.create_future()
            await waiter
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        connection = self.connection
        if connection.write_paused and not self.disconnected:
            await connection.drain()
        if self.disconnected:
            return
        if not self.response_started:
            self._start(message)
            return
        check_body_message(message, self.response_complete)
        held, self.held_head = self.held_head, None
        self._body(message.get("body", b""), message.get("more_body", False), held)

    def answer(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
        """A whole answer, its head and its body, in one write: what ``send`` does for an
        ``http.response.start`` and a last ``http.response.body`` without two coroutines, two
        message dicts and a callback for a held head. The Proxy API's answers that are not
        streamed go this way. False when it cannot go at once (the client is not reading what
        was written: the caller uses ``send``, which waits for it); nothing is written for a
        client that left, as with ``send``."""
        if self.response_started or (self.connection.write_paused and not self.disconnected):
            return False
        if not self.disconnected:
            self._body(body, False, self._head(status, headers))
        return True

    def _start(self, message: dict[str, Any]) -> None:
        if message["type"] != "http.response.start":
            raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message['type']}'.")
        head = self._head(message["status"], message.get("headers", ()))
        if self.chunked is not False or self.head_only:  # a stream, HEAD, 204/304: the head goes at once
            self.transport.write(head)
            return
        self.held_head = head
        self.connection.loop.call_soon(self._write_held_head)

    def _head(self, status: int, headers: Any) -> bytes:
        """The answer's head, with what the body's framing and the connection need noted."""
        self.response_started = True
        self.expect_continue = False
        connection = self.connection
        scope: Any = self.scope
        self.head_only = scope["method"] == "HEAD"
        head, self.chunked, self.expected_length, self.keep_alive = answer_head(
            status, headers, connection.server_state.default_headers, self.keep_alive, self.head_only,
        )
        if connection.access_log:  # uvicorn's line (logging.access_log with the plain format)
            connection.access_logger.info(
                '%s - "%s %s HTTP/%s" %d', get_client_addr(scope), scope["method"], get_path_with_query_string(scope), scope["http_version"], status,
            )
        return head

    def _body(self, body: bytes, more_body: bool, held: bytes | None) -> None:
        """One body message's bytes (after ``held``, a head that waited for them); the last ends the exchange."""
        data, self.expected_length = framed_body(body, more_body, self.chunked, self.head_only, self.expected_length, held)
        if data:
            self.transport.write(data)
        if not more_body:
            self.response_complete = True
            self.wake()
            if not self.keep_alive:
                self.transport.close()
            self.connection.response_complete(self)

    def _write_held_head(self) -> None:
        """No body followed within the turn: the head goes alone (a stream's client sees its
        headers before the first event)."""
        held, self.held_head = self.held_head, None
        if held is not None and not self.disconnected and not self.transport.is_closing():
            self.transport.write(held)


class ProxyHttpProtocol(HeaderLimits, asyncio.Protocol):
    """One client connection of the Proxy listener. Use :func:`proxy_protocol` for the class
    with given limits; uvicorn's server makes one per connection, with its usual arguments."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None) -> None:
        if not config.loaded:
            config.load()
        self.app: Callable[..., Awaitable[None]] = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.keepalive_timeout: float = config.timeout_keep_alive
        # Its default_headers are read per answer: uvicorn's server replaces that list every
        # second (the Date header), so a copy kept per connection would go stale.
        self.server_state = server_state
        self.access_logger = logging.getLogger("uvicorn.access")
        self.access_log = self.access_logger.hasHandlers()  # as uvicorn decides it
        self.parser = httptools.HttpRequestParser(self)
        # Answer a request that arrived before a client's close (as uvicorn does).
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.scheme = "http"
        self.write_paused = False
        self._drain: list[asyncio.Future[None]] = []
        self.read_paused = False
        self._exchange: _Exchange | None = None
        self._pipeline: deque[_Exchange] = deque()
        self._keepalive_timer: asyncio.TimerHandle | None = None
        self._init_limits()
        #: When the connection last became idle (its last answer sent); None while a request is in progress.
        self._idle_since: float | None = None
        # Per request (reset in on_message_begin):
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._expect_continue = False

    # --- the connection ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.server_state.connections.add(self)
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if isinstance(peer, (tuple, list)) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
        local = transport.get_extra_info("sockname")
        if isinstance(local, (tuple, list)) and len(local) >= 2:
            self.server = (str(local[0]), int(local[1]))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        self._connected()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._cancel_header_timer()
        self._cancel_keepalive()
        if self._exchange is not None:
            self._exchange.lost()
        for exchange in self._pipeline:
            exchange.lost()
        self.resume_writing()  # a send waiting to drain returns: its exchange is disconnected
        self.parser = None

    def eof_received(self) -> None:
        pass  # the transport closes (as uvicorn's does)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiters, self._drain = self._drain, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def drain(self) -> None:
        waiter = self.loop.create_future()
        self._drain.append(waiter)
        await waiter

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def shutdown(self) -> None:
        """uvicorn's server calls this on SIGTERM: idle connections close now, busy ones after
        their answer."""
        exchange = self._exchange
        if exchange is None or exchange.response_complete:
            self.transport.close()
        else:
            exchange.keep_alive = False

    def data_received(self, data: bytes) -> None:
        if self._deaf:
            return
        self._idle_since = None  # busy: the keep-alive timer leaves the connection open
        self._feed(data)

    # --- parser callbacks --------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._expect_continue = False
        self._begin_header()

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        if self._header_bytes > self._max_header_bytes:
            self._stop(self._too_large())
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        headers = self._headers
        if self._header_bytes > self._max_header_bytes or len(headers) >= self._max_header_count:
            self._stop(self._too_large() if self._header_bytes > self._max_header_bytes else self._too_many())
        name = name.lower()
        if name == b"host":
            if self._host_seen:
                self._stop(self._duplicate_host())
            self._host_seen = True
        elif name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._header_block_done()
        parser = self.parser
        upgrade = parser.should_upgrade()
        if upgrade:
            self._check_upgrade(self._headers)
        url = httptools.parse_url(self._url)
        raw_path = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        http_version = parser.get_http_version()
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": http_version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": parser.get_method().decode("ascii"),
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": url.query or b"",
            "headers": self._headers,
        }
        keep_alive = http_version != "1.0" and parser.should_keep_alive() and not upgrade
        exchange = _Exchange(scope, self, keep_alive, self._expect_continue)
        if upgrade:
            self._deaf = True  # httptools parses nothing after an Upgrade request; closed once answered
            exchange.more_body = False
        current = self._exchange
        if current is None or current.response_complete:
            self._exchange = exchange
            self._run(exchange)
        else:  # pipelined: answered in order, reading paused meanwhile
            self.pause_reading()
            self._pipeline.append(exchange)

    def on_body(self, body: bytes) -> None:
        exchange = self._pipeline[-1] if self._pipeline else self._exchange
        if exchange is None or exchange.response_complete:
            return
        exchange.body += body
        if len(exchange.body) > _BODY_HIGH_WATER:
            self.pause_reading()
        exchange.wake()

    def on_message_complete(self) -> None:
        exchange = self._pipeline[-1] if self._pipeline else self._exchange
        if exchange is None or exchange.response_complete:
            return
        exchange.more_body = False
        exchange.wake()

    # --- running the app ---------------------------------------------------------------------------

    def _run(self, exchange: _Exchange) -> None:
        # The server waits for these tasks at shutdown; each removes itself when done (no done
        # callback: that would be one more event-loop callback per request).
        task = exchange.task = self.loop.create_task(self._serve(exchange))
        self.server_state.tasks.add(task)

    async def _serve(self, exchange: _Exchange) -> None:
        try:
            await self.app(exchange.scope, exchange.receive, exchange.send)
        except BaseException as exc:  # as uvicorn: whatever the app raised, the connection answers or closes
            request_id = new_request_id()
            logger.error("request %s: the Proxy API failed", request_id, exc_info=exc)
            if not exchange.response_started and not exchange.disconnected:
                self._answer_error(f"the gateway hit an unexpected error; its log has the details under request id {request_id}", request_id)
            elif not exchange.response_complete:
                self.transport.close()
        else:
            if not exchange.response_started and not exchange.disconnected:
                request_id = new_request_id()
                logger.error("request %s: the Proxy API returned without an answer", request_id)
                self._answer_error(f"the gateway returned no answer; its log has the details under request id {request_id}", request_id)
            elif not exchange.response_complete and not exchange.disconnected:
                logger.error("the Proxy API returned without completing its answer")
                self.transport.close()
        finally:
            self.server_state.tasks.discard(exchange.task)

    def _answer_error(self, message: str, request_id: str) -> None:
        """A 500 envelope and close: the app failed before its answer began."""
        if not self.transport.is_closing():
            self.transport.write(refusal_bytes(GatewayError(message), request_id, self.server_state.default_headers))
            self.transport.close()

    def response_complete(self, exchange: _Exchange) -> None:
        """The exchange's last byte was written: the next pipelined request, or the keep-alive timer."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.resume_reading()
        if self._pipeline:
            self._exchange = self._pipeline.popleft()
            self._run(self._exchange)
            return
        # Idle from now: the keep-alive timer is armed once and re-armed only when it fires early
        # (a connection serving requests back to back would otherwise make and cancel one per request).
        self._idle_since = self.loop.time()
        if self._keepalive_timer is None:
            self._keepalive_timer = self.loop.call_at(self._idle_since + self.keepalive_timeout, self._keepalive_over)

    # --- what HeaderLimits asks -------------------------------------------------------------------

    def _answering(self) -> str:
        exchange = self._exchange
        if exchange is None or exchange.response_complete:
            return "idle"
        return "answering" if self._pipeline or exchange.response_started or not exchange.more_body else "reading"

    def _abandon(self) -> None:
        if self._exchange is not None:
            self._exchange.lost()

    def _finish_then_close(self) -> None:
        self._pipeline.clear()
        if self._exchange is not None:
            self._exchange.keep_alive = False

    # --- timers -------------------------------------------------------------------------------------

    def _keepalive_over(self) -> None:
        self._keepalive_timer = None
        idle_since = self._idle_since
        if idle_since is None or self.transport.is_closing():
            return  # a request is in progress: its answer arms the timer again
        ends = idle_since + self.keepalive_timeout
        if self.loop.time() >= ends:
            self.transport.close()
        else:  # requests came and went since it was armed: wait for the rest of this idle period
            self._keepalive_timer = self.loop.call_at(ends, self._keepalive_over)

    def _cancel_keepalive(self) -> None:
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
            self._keepalive_timer = None


def proxy_protocol(limits: HttpLimits) -> type[ProxyHttpProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, with ``limits`` applied to every connection."""
    return type("ProxyHttpProtocol", (ProxyHttpProtocol,), {"limits": limits})
