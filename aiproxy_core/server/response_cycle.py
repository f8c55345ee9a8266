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
import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

__all__ = ["ProxyResponseCycle"]

# uvicorn's HEADER_RE and HEADER_VALUE_RE: what a header name or value must not hold.
_BAD_NAME = re.compile(b'[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]')
_BAD_VALUE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")


class ProxyResponseCycle(RequestResponseCycle):
    """Swapped in for uvicorn's cycle by :class:`~.http_protocol.LimitedHttpToolsProtocol`
    (``cycle.__class__``: uvicorn builds the cycle inside ``on_headers_complete``), so it has no
    ``__init__`` of its own; its one extra attribute has a class default."""

    #: The head of an answer waiting for its body (see the module's docstring).
    _held_head: bytes | None = None

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            self._start(message)
            return
        if self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after response already completed.")
        if message["type"] != "http.response.body":
            raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message['type']}'.")
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        held, self._held_head = self._held_head, None
        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
        elif self.chunked_encoding:
            content = [b"%x\r\n" % len(body), body, b"\r\n"] if body else []
            if not more_body:
                content.append(b"0\r\n\r\n")
            self.transport.write(b"".join(content))
        else:
            if len(body) > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= len(body)
            self.transport.write(held + body if held is not None else body)
            held = None
        if held is not None:
            self.transport.write(held)
        if not more_body:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
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
        headers = message.get("headers", [])
        if self.access_log:
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(self.scope),
                self.scope["method"],
                get_path_with_query_string(self.scope),
                self.scope["http_version"],
                status_code,
            )
        if _BAD_NAME.search(b"".join([name for name, _ in headers])):
            raise RuntimeError("Invalid HTTP header name.")
        if _BAD_VALUE.search(b"".join([value for _, value in headers])):
            raise RuntimeError("Invalid HTTP header value.")
        content = [STATUS_LINE[status_code]]
        for name, value in self.default_headers:  # the server's own (Server, Date): already valid
            content += (name, b": ", value, b"\r\n")
        has_connection_close = False
        for name, value in headers:
            name = name.lower()
            if name == b"content-length":
                if self.chunked_encoding is None:
                    self.expected_content_length = int(value.decode())
                    self.chunked_encoding = False
            elif name == b"transfer-encoding":
                if value.lower() == b"chunked":
                    self.expected_content_length = 0
                    self.chunked_encoding = True
            elif name == b"connection":
                if b"close" in [token.lower().strip() for token in value.split(b",")]:
                    self.keep_alive = False
                    has_connection_close = True
            content += (name, b": ", value, b"\r\n")
        if not self.keep_alive and not has_connection_close:
            content.append(b"connection: close\r\n")
        head_only = self.scope["method"] == "HEAD" or status_code in (204, 304)
        if self.chunked_encoding is None and not head_only:
            self.chunked_encoding = True  # neither Content-Length nor Transfer-Encoding given
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        head = b"".join(content)
        if self.chunked_encoding or head_only:
            self.transport.write(head)
            return
        self._held_head = head
        asyncio.get_running_loop().call_soon(self._write_held_head)

    def _write_held_head(self) -> None:
        """No body followed within the turn: the head goes alone."""
        held, self._held_head = self._held_head, None
        if held is not None and not self.disconnected and not self.transport.is_closing():
            self.transport.write(held)
