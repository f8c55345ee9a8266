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

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..proxy.disconnect import DisconnectSignal
from .header_limits import HeaderLimits, HttpLimits
from .response_cycle import ProxyResponseCycle

__all__ = ["HttpLimits", "LimitedHttpToolsProtocol", "limited_protocol"]


class LimitedHttpToolsProtocol(HeaderLimits, HttpToolsProtocol):
    """Use :func:`limited_protocol` to get the class for given limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_limits()

    # --- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._connected()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, with the refusals of this class instead of its text/plain 400
        # (and without its warning per bad request, which anyone could use to fill the log).
        if self._deaf:
            return
        self._unset_keepalive_if_required()
        self._feed(data)

    # --- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begin_header()
        self._header_count = 0

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
            self._stop(self._too_many())
        if len(name) == 4 and name.lower() == b"host":
            if self._host_seen:
                self._stop(self._duplicate_host())
            self._host_seen = True
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._header_block_done()
        if self.parser.should_upgrade():
            self._check_upgrade(self.headers)
            super().on_headers_complete()
            # httptools parses nothing after an Upgrade request; close once it is answered.
            self.cycle.keep_alive = False
            self._deaf = True
            return
        super().on_headers_complete()
        # The proxy hears a disconnect through this event's listener, with no task per request
        # (proxy/disconnect.py), and answers through the leaner send of ProxyResponseCycle
        # (uvicorn builds the cycle inside on_headers_complete, so its class is swapped). Both
        # before the cycle's task first runs.
        if self.cycle is not None:
            self.cycle.message_event = DisconnectSignal()
            self.cycle.__class__ = ProxyResponseCycle

    # --- what HeaderLimits asks -------------------------------------------------------------------

    def _answering(self) -> str:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return "idle"
        return "answering" if self.pipeline or cycle.response_started or not cycle.more_body else "reading"

    def _abandon(self) -> None:
        self.cycle.disconnected = True
        self.cycle.message_event.set()

    def _finish_then_close(self) -> None:
        self.pipeline.clear()
        self.cycle.keep_alive = False
        self._deaf = True


def limited_protocol(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, with ``limits`` applied to every connection."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})
