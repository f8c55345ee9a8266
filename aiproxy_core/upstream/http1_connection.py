"""One keep-alive HTTP/1.1 connection to an upstream: writes a request, parses the answer.

An asyncio protocol with httptools' (llhttp's) response parser: a request's head and body go out
in one write, the answer's head is parsed in the callbacks and its body is kept as the chunks
that arrived, so a whole body costs one join and a stream hands each chunk on as it came. This is
the upstream half of the gateway's hot path: per request it allocates one future for the head
and one per wait for body bytes.

Timeouts are the ``upstream.read_timeout`` kind: the longest wait for the upstream's next bytes.
One timer per connection checks the time of the last bytes instead of being re-armed on every
read, and it outlives an exchange: the next exchange on the connection takes it over, and it is
re-armed only when it fires before a deadline (a timer made and cancelled per request cost
~2.6 µs on uvloop). While reading is paused because the consumer is slow, the upstream is not
blamed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

import httptools

from .upstream_errors import UpstreamProtocolError

__all__ = ["Http1Connection"]

#: Body bytes buffered for a consumer that has not read them yet before the socket stops reading.
PAUSE_ABOVE = 256 * 1024


class Http1Connection(asyncio.Protocol):
    """A connection the pool hands to one request at a time (see :mod:`.connection_pool`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: str, on_lost: Callable[["Http1Connection"], None]) -> None:
        self.key = key
        self.closed = False
        self.idle_since = 0.0
        #: True while the pool counts this connection against ``max_connections``.
        self.counted = True
        self.loop = loop
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._informational = False
        self._waiter: asyncio.Future[None] | None = None
        self._chunks: deque[bytes] = deque()
        self._paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0
        self._new_exchange(active=False, head_only=False, read_timeout=0.0)

    def _new_exchange(self, *, active: bool, head_only: bool, read_timeout: float) -> None:
        """One exchange's state, as it is before the answer's first byte."""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self.complete = False
        self._active = active
        self._head_done = False
        self._head_only = head_only
        self._error: BaseException | None = None
        self._chunks.clear()
        self._buffered = 0
        self._timeout = read_timeout

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self._active:  # bytes nobody asked for on an idle connection: it cannot be trusted again
            self.close()
            return
        self._last_data = self.loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("the upstream switched protocols, which a proxied request never asks for"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"the upstream's answer is not valid HTTP/1.1: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost settles the exchange

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        if self._active:
            if self._head_done and exc is None and self._delimited_by_close():
                self.keep_alive = False
                self._finish()
            else:
                self._fail(exc or ConnectionResetError("the upstream closed the connection before its answer was complete"))
        self._cancel_timer()
        self._on_lost(self)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # 103 Early Hints and the like: the real answer follows
            self._informational = True
            self.headers = []
            return
        self.status = status
        self.keep_alive = self._parser.should_keep_alive()
        self._head_done = True
        self._wake()
        if self._head_only:
            # The answer to HEAD has no body whatever its Content-Length says, and llhttp cannot be
            # told so: finish here and never reuse the connection (the parser would wait for one).
            self.keep_alive = False
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self._head_only:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > PAUSE_ABOVE and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if not self.complete:
            self._finish()

    # -- what the client calls -----------------------------------------------------------------

    def start(self, head: bytes, body: bytes, read_timeout: float, head_only: bool) -> None:
        """Send one request; then await :meth:`head`, and :meth:`read_all` or :meth:`next_chunk`."""
        assert self._transport is not None
        self._new_exchange(active=True, head_only=head_only, read_timeout=read_timeout)
        now = self._last_data = self.loop.time()
        deadline = now + read_timeout
        if self._timer is None or self._timer.when() > deadline:  # none pending, or one too late for this exchange
            self._arm(deadline)
        if body:
            self._transport.writelines((head, body))
        else:
            self._transport.write(head)

    async def head(self) -> None:
        """Wait for the answer's status line and headers."""
        while not self._head_done:
            await self._wait()

    async def read_all(self) -> bytes:
        """Wait for the whole body and return it."""
        while not self.complete:
            await self._wait()
        if self._error is not None:
            raise self._error
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        return body

    async def next_chunk(self) -> bytes:
        """The body's bytes that arrived since the last call (all of them: an upstream that sent
        events in a burst, one HTTP chunk each, is passed on in one write, not one per event);
        ``b""`` once it is complete."""
        chunks = self._chunks
        while not chunks:
            if self.complete:
                if self._error is not None:
                    raise self._error
                return b""
            await self._wait()
        chunk = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered -= len(chunk)
        return chunk

    def reusable(self) -> bool:
        """True when the exchange ended cleanly and the upstream keeps the connection open."""
        return self.complete and self.keep_alive and self._error is None and not self.closed

    def close(self) -> None:
        """Close the transport; from now on the connection is never handed out again (its
        ``connection_lost``, which marks it closed, comes a loop turn later)."""
        self.keep_alive = False
        if self._transport is not None and not self.closed:
            self._transport.close()
        self._cancel_timer()

    # -- inside --------------------------------------------------------------------------------

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        if self._paused and self._transport is not None:
            self._paused = False
            self._last_data = self.loop.time()  # the quiet time was the consumer's, not the upstream's
            self._transport.resume_reading()
        waiter = self._waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self) -> None:
        # The timer stays: it fires once, finds the exchange complete and stops (or the next
        # exchange on this connection takes it over).
        self.complete = True
        self._active = False
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self._active:
            self._error = error
            self.complete = True
            self._active = False
        self._cancel_timer()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self._transport is not None and not self.closed:
            self._transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, at: float) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._active:  # idle between exchanges, or the exchange is over
            return
        now = self.loop.time()
        quiet = now - self._last_data
        if self._paused or quiet < self._timeout:
            start = now if self._paused else self._last_data
            self._arm(start + self._timeout)
            return
        self._fail(TimeoutError(f"no bytes from the upstream for {self._timeout:g} s"))

    def _delimited_by_close(self) -> bool:
        """An answer with neither Content-Length nor chunked encoding ends when the connection does."""
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
                return False
        return True
