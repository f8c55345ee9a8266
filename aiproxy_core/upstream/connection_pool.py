"""Keep-alive connections to upstreams: how many, which are idle, and how new ones are made.

Every connection is made through the :class:`~.target_policy.TargetPolicy`: an IP-literal host is
judged before any connection, a name is resolved here and only the addresses the policy allows are
dialled, on every connection, so a name that re-binds to private space later meets the same policy
as the rule's save did.

``upstream.max_connections`` bounds the open connections of the process (idle ones included); a
request that finds the pool full waits up to ``connect_timeout`` for a slot, and an idle connection
to another origin is closed to make room. Idle connections are reused most recent first (the one
least likely to have been closed by the upstream) and closed after ``keepalive_timeout``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from .http1_connection import Http1Connection
from .target_policy import TargetPolicy, parse_address
from .upstream_errors import TargetRefused

__all__ = ["ConnectionPool", "Origin", "Resolver", "SystemResolver"]

#: How long a name's resolved addresses are reused (aiohttp's default DNS cache time).
DNS_TTL_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request goes: parsed once per target origin and kept."""

    key: str  #: ``scheme://host:port``, the pool's key and the log's name for it (no userinfo)
    host: str  #: as written, brackets removed
    port: int
    tls: bool
    host_header: str  #: ``host: ...\r\n``, ready to write
    refusal: str | None  #: the policy's verdict on an IP-literal or fixed-name host


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The IP addresses ``host`` names, as text; raises OSError when it names none."""
        ...


class SystemResolver:
    """``getaddrinfo`` off the event loop, each answer kept for :data:`DNS_TTL_SECONDS`."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def resolve(self, host: str, port: int) -> list[str]:
        now = time.monotonic()
        cached = self._cache.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[(host, port)] = (now + DNS_TTL_SECONDS, addresses)
        return addresses


class ConnectionPool:
    def __init__(
        self,
        policy: TargetPolicy,
        *,
        max_connections: int,
        keepalive_timeout: float,
        connect_timeout: float,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._policy = policy
        self._limit = max_connections
        self._keepalive = keepalive_timeout
        self._connect_timeout = connect_timeout
        self._resolver = resolver if resolver is not None else SystemResolver()
        self._ssl = ssl_context
        self._idle: dict[str, list[Http1Connection]] = {}
        #: Every open connection, idle or busy: closing the pool closes them all (a stream that
        #: was never read to its end must not keep an upstream's graceful shutdown waiting).
        self._connections: set[Http1Connection] = set()
        self._open = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_idle())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in list(self._connections):
            connection.close()
        self._connections.clear()
        self._idle.clear()

    def take_idle(self, origin: Origin) -> Http1Connection | None:
        """A kept-alive connection to ``origin`` still within ``keepalive_timeout``, if there is
        one (no coroutine: the common case of a request under load); else :meth:`connect`."""
        idle = self._idle.get(origin.key)
        while idle:
            connection = idle.pop()
            if connection.closed:
                continue
            # The connection's own loop: asyncio.get_running_loop() makes a getpid() system call.
            if connection.loop.time() - connection.idle_since < self._keepalive:
                return connection
            connection.close()
        return None

    async def connect(self, origin: Origin) -> Http1Connection:
        """A new connection to ``origin``, once ``max_connections`` allows one."""
        if origin.refusal is not None:
            raise TargetRefused(f"{origin.key} {origin.refusal}")
        async with asyncio.timeout(self._connect_timeout):
            await self._slot()
            try:
                return await self._dial(origin)
            except BaseException:
                self._open -= 1
                self._wake_slot_waiter()
                raise

    def release(self, connection: Http1Connection) -> None:
        """Give back a connection its request is done with: kept when reusable, else closed."""
        if connection.reusable():
            connection.idle_since = connection.loop.time()
            idle = self._idle.get(connection.key)
            if idle is None:
                idle = self._idle[connection.key] = []
            idle.append(connection)
            if self._slot_waiters:  # someone waits for room: they may want another origin
                self._close_oldest_idle()
        else:
            connection.close()

    # -- inside --------------------------------------------------------------------------------

    async def _slot(self) -> None:
        while self._open >= self._limit:
            if self._close_oldest_idle():
                continue  # its connection_lost frees the slot; count it as free now
            waiter = asyncio.get_running_loop().create_future()
            self._slot_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._slot_waiters:
                    self._slot_waiters.remove(waiter)
        self._open += 1

    def _close_oldest_idle(self) -> bool:
        oldest: Http1Connection | None = None
        for idle in self._idle.values():
            for connection in idle:
                if not connection.closed and (oldest is None or connection.idle_since < oldest.idle_since):
                    oldest = connection
        if oldest is None:
            return False
        self._idle[oldest.key].remove(oldest)
        self._forget(oldest)
        oldest.close()
        return True

    def _forget(self, connection: Http1Connection) -> None:
        """Stop counting ``connection`` (once: it is closing, and its connection_lost will not count again)."""
        if connection.counted:
            connection.counted = False
            self._open -= 1
            self._wake_slot_waiter()

    def _on_lost(self, connection: Http1Connection) -> None:
        self._connections.discard(connection)
        self._forget(connection)

    def _wake_slot_waiter(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _dial(self, origin: Origin) -> Http1Connection:
        loop = asyncio.get_running_loop()
        literal = parse_address(origin.host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            resolved = await self._resolver.resolve(origin.host.rstrip("."), origin.port)
            addresses, refused = [], []
            for text in resolved:
                parsed = parse_address(text)
                why = "is not an IP address" if parsed is None else self._policy.refusal(parsed, origin.port)
                if why is None:
                    addresses.append(text)
                else:
                    refused.append(f"{text} {why}")
            if not addresses:
                raise TargetRefused(f"{origin.key} resolves only to refused addresses: " + "; ".join(refused))
        tls = self._tls_context() if origin.tls else None
        last: OSError | None = None
        connection: Http1Connection
        for address in addresses:
            try:
                _, connection = await loop.create_connection(
                    lambda: Http1Connection(loop, origin.key, self._on_lost),
                    address,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                )
                self._connections.add(connection)
                return connection
            except OSError as exc:
                last = exc
        assert last is not None
        raise last

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _sweep_idle(self) -> None:
        """Close connections idle longer than ``keepalive_timeout`` (they hold the upstream's sockets)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(self._keepalive / 2, 0.05))
            now = loop.time()
            for key in list(self._idle):
                kept = []
                for connection in self._idle[key]:
                    if connection.closed:
                        continue
                    if now - connection.idle_since >= self._keepalive:
                        connection.close()
                    else:
                        kept.append(connection)
                if kept:
                    self._idle[key] = kept
                else:
                    del self._idle[key]
