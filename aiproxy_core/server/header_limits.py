"""What both HTTP protocols do the same way around the parser: feeding it, bounding a header block
in time and size, the checks once a block is complete, and refusing (:mod:`.refusals` builds the
answer). :class:`HeaderLimits` is mixed into the Proxy listener's own protocol
(:mod:`.proxy_protocol`) and into uvicorn's with limits (:mod:`.http_protocol`); the per-header
callbacks stay in each class, inline, because they run for every header of every request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import httptools

from ..errors import BadRequest, GatewayError, HeadersTooLarge
from ..request_ids import new_request_id
from .refusals import LINGER_SECONDS, METHOD_MARGIN, REQUEST_LINE_AND_END, invalid_request, refusal_bytes

if TYPE_CHECKING:
    from ..config import ServerConfig

__all__ = ["HeaderLimits", "HttpLimits"]

logger = logging.getLogger("aiproxy.server")


@dataclasses.dataclass(frozen=True, slots=True)
class HttpLimits:
    header_timeout: float
    max_header_bytes: int
    max_header_count: int

    @classmethod
    def from_server_config(cls, server: ServerConfig) -> "HttpLimits":
        return cls(server.header_timeout, server.max_header_bytes, server.max_header_count)


class Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal is in ``_refusal``."""


class HeaderLimits:
    """The limits of one connection. The class using it sets ``limits`` (a class attribute), has
    ``loop``, ``transport``, ``parser``, ``client`` and ``server_state``, calls :meth:`_init_limits` in its
    ``__init__``, and says through :meth:`_answering` and :meth:`_abandon` what its own request
    state is."""

    limits: HttpLimits
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    parser: Any
    client: tuple[str, int] | None
    server_state: Any  # uvicorn's ServerState: its default_headers go on every refusal

    def _init_limits(self) -> None:
        limits = self.limits
        self._header_timeout = limits.header_timeout
        self._max_header_bytes = limits.max_header_bytes
        self._max_header_count = limits.max_header_count
        # Per request (reset by _begin_header):
        self._in_header = False  # a request has begun and its header block is not complete
        self._header_bytes = 0  # the block so far, counted from the parser's callbacks
        self._unparsed_bytes = 0  # bytes received while the block stayed incomplete
        self._host_seen = False
        # Per connection:
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: GatewayError | None = None
        self._deaf = False  # refused, or after an Upgrade request: whatever comes next is not read

    # --- what the protocol calls ---------------------------------------------------------------------

    def _connected(self) -> None:
        """A new connection has header_timeout to complete its first header block, bytes or not."""
        self._header_timer = self.loop.call_later(self._header_timeout, self._header_time_over)

    def _feed(self, data: bytes) -> None:
        """``data`` to the parser; a refusal if a callback stopped it or the request is not HTTP."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            return  # served as plain HTTP (then closed) or refused by the protocol's headers-complete
        except httptools.HttpParserError:  # a callback's Refused arrives as HttpParserCallbackError
            self._refuse(self._refusal or invalid_request())
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

    def _begin_header(self) -> None:
        self._in_header = True
        self._header_bytes = self._unparsed_bytes = 0
        self._host_seen = False

    def _header_block_done(self) -> None:
        """The block is complete: its timer stops, and the request line's method counts too."""
        self._in_header = False
        self._cancel_header_timer()
        if self._header_bytes + REQUEST_LINE_AND_END + METHOD_MARGIN > self._max_header_bytes:
            if self._header_bytes + REQUEST_LINE_AND_END + len(self.parser.get_method()) > self._max_header_bytes:
                self._stop(self._too_large())

    def _check_upgrade(self, headers: list[tuple[bytes, bytes]]) -> None:
        """An Upgrade request is served as plain HTTP (then the connection closes), except these."""
        upgrade = b""
        has_body = False
        for name, value in headers:  # only for Upgrade requests, which are rare
            if name == b"upgrade":
                upgrade = value.lower()
            elif name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
                has_body = True
        if b"websocket" in upgrade:
            # 400, not 501: no client should retry it.
            self._stop(BadRequest(
                "WebSocket is not supported by this gateway yet; use HTTP (streaming answers arrive as server-sent events)",
                code="websocket_not_supported",
            ))
        if self.parser.get_method() == b"CONNECT":  # httptools treats every CONNECT as an upgrade
            self._stop(BadRequest("this gateway is not a forward proxy: CONNECT is not supported", code="connect_not_supported"))
        if has_body:
            # httptools hands an Upgrade request's body to the other protocol: lost, or read as a
            # further request (smuggling); so such a request is refused rather than served.
            self._stop(BadRequest(
                "this gateway does not switch protocols, and cannot read the body of a request with Upgrade; "
                "send it without the Upgrade and Connection: upgrade headers",
                code="upgrade_not_supported",
            ))

    def _too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"the request line and headers are larger than {self._max_header_bytes} bytes; send fewer or smaller headers"
        )

    def _too_many(self) -> HeadersTooLarge:
        return HeadersTooLarge(f"the request has more than {self._max_header_count} header fields; send fewer")

    def _duplicate_host(self) -> BadRequest:
        return BadRequest("the request has two Host headers; send exactly one", code="duplicate_host")

    def _stop(self, refusal: GatewayError) -> None:
        self._refusal = refusal
        raise Refused

    # --- what the protocol says of its own request state ------------------------------------------

    def _answering(self) -> str:
        """What the connection is doing when a refusal comes: ``"idle"`` (no request in
        flight), ``"reading"`` (a request's app runs and its body is still arriving: the refusal
        is about that body), ``"answering"`` (the request in flight was read whole or its answer
        has begun: the refusal is about a later, pipelined request)."""
        raise NotImplementedError

    def _abandon(self) -> None:
        """The in-flight request's app must see a disconnect and write nothing."""
        raise NotImplementedError

    def _finish_then_close(self) -> None:
        """The in-flight request is answered, then the connection closes (requests queued behind
        it are dropped: they came before the one refused)."""
        raise NotImplementedError

    # --- refusing -------------------------------------------------------------------------------------

    def _refuse(self, error: GatewayError) -> None:
        """Answer with the envelope and close, reading (and dropping) what the client still sends for a moment."""
        self._deaf = True
        self._in_header = False
        self._cancel_header_timer()
        if self.transport.is_closing():
            return
        state = self._answering()
        if state == "answering":
            # A later request is bad: HTTP/1.1 answers in order, so its refusal cannot go before
            # the answer in flight. That one is sent, then the connection closes.
            logger.info("closing the connection from %s after its answer in flight: %s %s in a pipelined request", self._peer(), error.status, error.code)
            self._finish_then_close()
            return
        in_flight = state == "reading"
        if in_flight:  # its app is reading the body: it sees a disconnect, and writes nothing
            self._abandon()
        request_id = new_request_id()
        self.transport.write(refusal_bytes(error, request_id, self.server_state.default_headers))
        logger.info("refused a request from %s with %d %s (request id %s)", self._peer(), error.status, error.code, request_id)
        if not in_flight and self.transport.can_write_eof():
            # Nothing else writes on this connection now: half-close, and read on for a moment.
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    # --- the header timer -----------------------------------------------------------------------------

    def _header_time_over(self) -> None:
        self._header_timer = None
        self._deaf = True
        if not self.transport.is_closing():
            logger.debug("closed a connection from %s: no complete request header within header_timeout", self._peer())
            self.transport.close()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _peer(self) -> str:
        return "%s:%d" % self.client if self.client else "an unknown peer"
