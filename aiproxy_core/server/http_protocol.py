"""uvicorn's httptools protocol with the limits it lacks: header time, header size and count,
one Host, no protocol switching.

uvicorn with httptools reads a header block of any size (a 50 MB header was accepted and
forwarded) for as long as the client likes (slowloris), and keeps a new connection that sends
nothing open forever. This subclass adds those limits and leaves the rest to uvicorn:

- ``header_timeout``: a request's header block must be complete within this many seconds of its
  first byte; a new connection must complete its first within this many seconds of opening.
  Otherwise the connection is closed without an answer.
- ``max_header_bytes`` / ``max_header_count``: 431 ``headers_too_large`` as soon as the block
  passes either, without reading the rest.
- Two ``Host`` headers: 400 ``duplicate_host`` (which one a component reads would differ).
- ``Upgrade: websocket``: 400 ``websocket_not_supported`` (not 501: no client should retry it). Another ``Upgrade`` is served as a
  plain request and the connection closed after it; with a body it is refused 400
  ``upgrade_not_supported``, because httptools hands an Upgrade request's body to the other
  protocol (lost, or read as a further request: smuggling). CONNECT: 400 ``connect_not_supported``.
- A request httptools cannot parse: 400 ``invalid_http_request``.

Every refusal is the JSON error envelope with a fresh request id, and ``Connection: close``.

Hot path: per request a few integer additions in the parser callbacks uvicorn already receives,
no timer unless a header block spans several reads, and no allocation beyond those counters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import ServerConfig
from ..errors import BadRequest, GatewayError, HeadersTooLarge
from ..proxy.disconnect import DisconnectSignal
from ..request_ids import new_request_id
from .response_cycle import ProxyResponseCycle

__all__ = ["HttpLimits", "LimitedHttpToolsProtocol", "limited_protocol"]

logger = logging.getLogger("aiproxy.server")

#: What a request line adds to the URL and method: two spaces, "HTTP/1.1", CRLF; and the blank line.
_REQUEST_LINE_AND_END = 2 + 8 + 2 + 2
#: Longer than any method name httptools accepts: below this margin the exact method length
#: cannot matter, so ``get_method()`` is only called near the limit.
_METHOD_MARGIN = 32
#: How long a refused client may keep sending (discarded) after its answer, so closing the socket
#: with unread input does not reset the connection before the client has read the answer.
_LINGER_SECONDS = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class HttpLimits:
    header_timeout: float
    max_header_bytes: int
    max_header_count: int

    @classmethod
    def from_server_config(cls, server: ServerConfig) -> "HttpLimits":
        return cls(server.header_timeout, server.max_header_bytes, server.max_header_count)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal is in ``_refusal``."""


def _invalid_request() -> BadRequest:
    return BadRequest(
        "the request is not valid HTTP/1.1; check the request line and header syntax", code="invalid_http_request"
    )


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """Use :func:`limited_protocol` to get the class for given limits."""

    limits: HttpLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = self.limits
        self._header_timeout = limits.header_timeout
        self._max_header_bytes = limits.max_header_bytes
        self._max_header_count = limits.max_header_count
        # Per request (reset in on_message_begin):
        self._in_header = False  # a request has begun and its header block is not complete
        self._header_bytes = 0  # the block so far, counted from the parser's callbacks
        self._unparsed_bytes = 0  # bytes received while the block stayed incomplete
        self._header_count = 0
        self._host_seen = False
        # Per connection:
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: GatewayError | None = None
        self._deaf = False  # refused, or after an Upgrade request: whatever comes next is not read

    # --- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A new connection has header_timeout to complete its first header block, bytes or not.
        self._header_timer = self.loop.call_later(self._header_timeout, self._header_time_over)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, with the refusals of this class instead of its text/plain 400
        # (and without its warning per bad request, which anyone could use to fill the log).
        if self._deaf:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            return  # served as plain HTTP by on_headers_complete, and closed after it
        except httptools.HttpParserError:  # a callback's _Refused arrives as HttpParserCallbackError
            self._refuse(self._refusal or _invalid_request())
            return
        if self._in_header:
            # The block spans reads: httptools keeps a partial header line in memory until it
            # ends, so bound what arrives before the block is complete; every byte received
            # while it is incomplete is part of it (a pipelined request's leftovers aside).
            self._unparsed_bytes += len(data)
            if self._unparsed_bytes > self._max_header_bytes:
                self._refuse(self._too_large())
            elif self._header_timer is None:
                self._header_timer = self.loop.call_later(self._header_timeout, self._header_time_over)

    # --- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_header = True
        self._header_bytes = self._unparsed_bytes = self._header_count = 0
        self._host_seen = False

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        if self._header_bytes > self._max_header_bytes:
            self._stop(self._too_large())
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_bytes > self._max_header_bytes:
            self._stop(self._too_large())
        if self._header_count > self._max_header_count:
            self._stop(
                HeadersTooLarge(f"the request has more than {self._max_header_count} header fields; send fewer")
            )
        if len(name) == 4 and name.lower() == b"host":
            if self._host_seen:
                self._stop(BadRequest("the request has two Host headers; send exactly one", code="duplicate_host"))
            self._host_seen = True
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_header = False
        self._cancel_header_timer()
        if self._header_bytes + _REQUEST_LINE_AND_END + _METHOD_MARGIN > self._max_header_bytes:
            if self._header_bytes + _REQUEST_LINE_AND_END + len(self.parser.get_method()) > self._max_header_bytes:
                self._stop(self._too_large())
        if self.parser.should_upgrade():
            self._serve_without_upgrade()
        else:
            super().on_headers_complete()
            # The proxy hears a disconnect through this event's listener, with no task per
            # request (proxy/disconnect.py), and answers through the leaner send of
            # ProxyResponseCycle (uvicorn builds the cycle inside on_headers_complete, so its
            # class is swapped). Both before the cycle's task first runs.
            if self.cycle is not None:
                self.cycle.message_event = DisconnectSignal()
                self.cycle.__class__ = ProxyResponseCycle

    # --- refusals ---------------------------------------------------------------------------------

    def _serve_without_upgrade(self) -> None:
        upgrade = b""
        has_body = False
        for name, value in self.headers:  # only for Upgrade requests, which are rare
            if name == b"upgrade":
                upgrade = value.lower()
            elif name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
                has_body = True
        if b"websocket" in upgrade:
            self._stop(
                BadRequest(
                    "WebSocket is not supported by this gateway yet; use HTTP (streaming answers arrive as server-sent events)",
                    code="websocket_not_supported",
                )
            )
        if self.parser.get_method() == b"CONNECT":  # httptools treats every CONNECT as an upgrade
            self._stop(BadRequest("this gateway is not a forward proxy: CONNECT is not supported", code="connect_not_supported"))
        if has_body:
            self._stop(
                BadRequest(
                    "this gateway does not switch protocols, and cannot read the body of a request with Upgrade; "
                    "send it without the Upgrade and Connection: upgrade headers",
                    code="upgrade_not_supported",
                )
            )
        super().on_headers_complete()
        # httptools parses nothing after an Upgrade request; close once it is answered.
        self.cycle.keep_alive = False
        self._deaf = True

    def _too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"the request line and headers are larger than {self._max_header_bytes} bytes; send fewer or smaller headers"
        )

    def _stop(self, refusal: GatewayError) -> None:
        self._refusal = refusal
        raise _Refused

    def _refuse(self, error: GatewayError) -> None:
        """Answer with the envelope and close, reading (and dropping) what the client still sends for a moment."""
        self._deaf = True
        self._in_header = False
        self._cancel_header_timer()
        if self.transport.is_closing():
            return
        in_flight = self.cycle is not None and not self.cycle.response_complete
        if self.pipeline or (in_flight and self.cycle.response_started):
            # A parse error while another request is answered (in its body, or a pipelined one):
            # an answer cannot go in the middle of another; the connection is cut.
            self.transport.close()
            return
        if in_flight:  # its application is reading the body: it sees a disconnect, and writes nothing
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        request_id = new_request_id()
        body = error.to_body(request_id)
        head = [STATUS_LINE[error.status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nx-request-id: ",
            request_id.encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        logger.info("refused a request from %s with %d %s (request id %s)", self._peer(), error.status, error.code, request_id)
        if not in_flight and self.transport.can_write_eof():
            # Nothing else writes on this connection now: half-close, and read on for a moment.
            self.transport.write_eof()
            self.loop.call_later(_LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    # --- the header timer -----------------------------------------------------------------------

    def _header_time_over(self) -> None:
        self._header_timer = None
        self._deaf = True
        if not self.transport.is_closing():
            logger.debug("closed a connection from %s: no complete request header within header_timeout", self._peer())
            self.transport.close()

    def _peer(self) -> str:
        return "%s:%d" % self.client if self.client else "an unknown peer"

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None


def limited_protocol(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, with ``limits`` applied to every connection."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})

