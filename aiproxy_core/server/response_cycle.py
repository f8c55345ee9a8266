"""uvicorn's request cycle with a leaner ``send``: one write per whole answer, headers checked once.

uvicorn's ``RequestResponseCycle.send`` was ~12 % of the gateway's CPU under the monetized
benchmark (py-spy). Per answer it runs two regular expressions and a few comparisons per header,
and writes the head and the body in two ``transport.write`` calls (two syscalls on uvloop).
:class:`ProxyResponseCycle` keeps its behaviour and its refusals, and changes only how:

- the header names are checked with one regular-expression search over all of them joined, and
  the values with one over all values (the expressions are character classes, so joining changes
  nothing of what they find: a CR, LF or other control byte anywhere is refused, as before);
- the head of an answer with a ``Content-Length`` is held until its body arrives (the proxy sends
  them back to back), and both leave in one write; if no body follows within the event-loop turn,
  the head is written alone. Streamed answers (chunked) and HEAD answers write their head at once,
  so a client waiting for an event stream's headers does not wait for its first event.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from .answer_head import answer_head, check_body_message, framed_body

__all__ = ["ProxyResponseCycle"]


class ProxyResponseCycle(RequestResponseCycle):
    """Swapped in for uvicorn's cycle by :class:`~.http_protocol.LimitedHttpToolsProtocol`
    (``cycle.__class__``: uvicorn builds the cycle inside ``on_headers_complete``), so it has no
    ``__init__`` of its own; its one extra attribute has a class default."""

    #: The head of an answer waiting for its body (see the module's docstring).
    _held_head: bytes | None = None

    def on_disconnect(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` when the client leaves (at once if it has); None stops it. The
        protocol set this cycle's event to a DisconnectSignal, which uvicorn sets on every change
        (more body, the answer's end, the connection's loss): the listener is called on a loss."""
        signal = self.message_event
        if listener is None:
            signal.listener = None  # type: ignore[attr-defined]
            return

        def on_signal() -> None:
            if self.disconnected:
                listener()

        signal.listener = on_signal  # type: ignore[attr-defined]
        on_signal()

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            self._start(message)
            return
        check_body_message(message, self.response_complete)
        more_body = message.get("more_body", False)
        held, self._held_head = self._held_head, None
        head_request = self.scope["method"] == "HEAD"
        data, self.expected_content_length = framed_body(
            message.get("body", b""), more_body, self.chunked_encoding, head_request, self.expected_content_length, held,
        )
        if data:
            self.transport.write(data)
        if not more_body:
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()  # the protocol's next pipelined request, or its keep-alive timer

    def _start(self, message: Any) -> None:
        if message["type"] != "http.response.start":
            raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message['type']}'.")
        self.response_started = True
        self.waiting_for_100_continue = False
        status_code = message["status"]
        if self.access_log:
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(self.scope),
                self.scope["method"],
                get_path_with_query_string(self.scope),
                self.scope["http_version"],
                status_code,
            )
        head_request = self.scope["method"] == "HEAD"
        head, self.chunked_encoding, self.expected_content_length, self.keep_alive = answer_head(
            status_code, message.get("headers", []), self.default_headers, self.keep_alive, head_request,
        )
        if self.chunked_encoding is not False or head_request:  # a stream, HEAD, 204/304: the head goes at once
            self.transport.write(head)
            return
        self._held_head = head
        asyncio.get_running_loop().call_soon(self._write_held_head)

    def _write_held_head(self) -> None:
        """No body followed within the turn: the head goes alone."""
        held, self._held_head = self._held_head, None
        if held is not None and not self.disconnected and not self.transport.is_closing():
            self.transport.write(held)
