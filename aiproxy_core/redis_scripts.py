"""A lean Redis connection for plugins' Lua calls on the request path, shared by a gateway process.

Why not the gateway's redis-py client? Measured on the 2-core dev machine, a gateway request with
a Redis-backed limit cost ~140 µs more CPU than without one, ~110 µs of it in redis-py's
per-command Python work (pool checkout, retry wrapper, packing, reply handling), even with calls
batched into pipelines. Here a call is a hiredis-packed EVALSHA and one future resolved in
``data_received``. Calls made in the same event-loop turn leave in one write, so Redis (which
answers in order) wakes once for all of them instead of once per request: on a busy 2-core
machine each wake-up cost Redis more CPU than the script itself. The gateway makes one per
process (``services.scripts``), so the rate limiter's and billing's calls of one turn share a write.

It speaks only what script calls need: AUTH/SELECT on connect, SCRIPT LOAD, EVALSHA (reloading a
script Redis forgot, e.g. after a restart), and a plain command where a script would only copy its
arguments (a queue's XADD). Replies are hiredis's: integers, ``bytes``, lists. A
lost connection fails its pending calls; the next call reconnects.

:class:`RequestScript` is how the core's own request-path calls (the state API) use it: over this
connection when the process has one, over the redis-py client when it has not (a Redis Cluster:
this connection talks to one server), with replies decoded to ``str`` either way.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Sequence

import hiredis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RequestScript", "ScriptConnection", "ScriptError", "text_reply"]


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: deque[asyncio.Future[Any]] = deque()
        self._reader = hiredis.Reader(notEnoughData=False)
        self._outgoing: list[bytes] = []
        self._deadline: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            reply = self._reader.gets()
            if reply is False:
                return
            future = self.pending.popleft()
            if not future.done():  # its caller may have timed out meanwhile
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        error = ConnectionError(f"the connection to Redis was lost: {exc or 'closed by the server'}")
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(error)

    def send(self, *command: Any, timeout: float = 5.0) -> "asyncio.Future[Any]":
        if self.transport is None:
            raise ConnectionError("not connected to Redis")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append(future)
        if not self._outgoing:
            self._deadline = timeout
            loop.call_soon(self._write_out)
        else:
            self._deadline = min(self._deadline or timeout, timeout)
        self._outgoing.append(hiredis.pack_command(command))
        return future

    def _write_out(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self.transport is None:
            return
        self.transport.write(b"".join(outgoing))
        # One timer per write (not per call): what is still unanswered at the deadline fails
        # with TimeoutError; its late reply is dropped in data_received.
        batch = list(self.pending)[-len(outgoing):]
        asyncio.get_running_loop().call_later(self._deadline or 5.0, _expire, batch)


def _expire(futures: list["asyncio.Future[Any]"]) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(TimeoutError("Redis did not answer in time"))


class ScriptConnection:
    """``await connection.evalsha(LUA_SOURCE, keys, args)``; connects on first use."""

    def __init__(self, host: str, port: int, password: str | None = None, db: int = 0) -> None:
        self._address = (host, port)
        self._password = password or None
        self._db = db
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._shas: dict[str, str] = {}

    async def evalsha(self, source: str, keys: list[str], args: list[Any], timeout: float = 5.0) -> Any:
        """Run the Lua ``source`` (by its SHA, loading it when Redis does not know it).

        Raises TimeoutError when Redis has not answered within ``timeout`` seconds.
        """
        protocol = await self._ready(timeout)
        sha = self._shas.get(source) or await self._load(protocol, source, timeout)
        reply = await protocol.send(b"EVALSHA", sha, len(keys), *keys, *args, timeout=timeout)
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            sha = await self._load(protocol, source, timeout)
            reply = await protocol.send(b"EVALSHA", sha, len(keys), *keys, *args, timeout=timeout)
        return _checked(reply)

    async def command(self, *command: Any, timeout: float = 5.0) -> Any:
        """A plain command (a queue's XADD) in the same turn's write; an error reply raises
        :class:`ScriptError`."""
        protocol = await self._ready(timeout)
        return _checked(await protocol.send(*command, timeout=timeout))

    async def _ready(self, timeout: float) -> _Protocol:
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            protocol = await asyncio.wait_for(self._connected(), timeout)
        return protocol

    async def close(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        """Close the connection (pending calls fail); a later call connects again."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()

    async def _load(self, protocol: _Protocol, source: str, timeout: float) -> str:
        reply = _checked(await protocol.send(b"SCRIPT", b"LOAD", source, timeout=timeout))
        self._shas[source] = reply.decode()
        return self._shas[source]

    async def _connected(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            return protocol
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # concurrent callers share one new connection
            protocol = self._protocol
            if protocol is not None and protocol.transport is not None:
                return protocol
            loop = asyncio.get_running_loop()
            _, protocol = await loop.create_connection(_Protocol, *self._address)
            for command in self._handshake():
                reply = await protocol.send(*command)
                if isinstance(reply, hiredis.ReplyError):
                    if protocol.transport is not None:
                        protocol.transport.close()
                    raise ConnectionError(f"Redis refused {command[0].decode()}: {reply}")
            self._protocol = protocol
            return protocol

    def _handshake(self) -> list[tuple[Any, ...]]:
        commands: list[tuple[Any, ...]] = []
        if self._password:
            commands.append((b"AUTH", self._password))
        if self._db:
            commands.append((b"SELECT", self._db))
        return commands


class ScriptError(Exception):
    """Redis answered a script call with an error (a bug in the script, or a wrong key type)."""


def _checked(reply: Any) -> Any:
    """The reply, or :class:`ScriptError` for an error reply."""
    if isinstance(reply, hiredis.ReplyError):
        raise ScriptError(str(reply))
    return reply


class RequestScript:
    """A Lua script of a request path: ``await script(scripts, redis, keys, args)``.

    With a :class:`ScriptConnection` (``scripts``) the call joins the event-loop turn's one write
    shared by every plugin; without one (``None``: a Redis Cluster, where that connection cannot
    route by slot) it goes through the redis-py client ``redis``, which routes the EVALSHA by its
    first key. Both return the same reply, decoded like redis-py's ``decode_responses=True``: bulk
    strings as ``str``, integers as ``int``, nil as None, arrays as lists. A script that has to
    report a condition (a wrong kind of key) returns it rather than raising, so callers see the
    same thing on both paths, failures included: a store that cannot be reached raises the builtin
    ``ConnectionError``, one that does not answer in time ``TimeoutError``, an error reply
    :class:`ScriptError` (redis-py's own exceptions are turned into these).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        # Registered without a client (bytes: no encoder needed); each call passes the client.
        self._fallback = AsyncScript(None, source.encode())  # type: ignore[arg-type]

    async def __call__(
        self, scripts: "ScriptConnection | None", redis: "Redis", keys: list[str], args: Sequence[Any], *, timeout: float | None = None
    ) -> Any:
        """``timeout``: TimeoutError when Redis has not answered within that many seconds (None: 5 s
        on the script connection, redis-py's socket timeout on the client)."""
        if scripts is not None:
            return text_reply(await scripts.evalsha(self.source, keys, list(args), timeout=timeout or 5.0))
        try:
            if timeout is None:
                return await self._fallback(keys=keys, args=args, client=redis)
            async with asyncio.timeout(timeout):
                return await self._fallback(keys=keys, args=args, client=redis)
        except RedisConnectionError as exc:
            raise ConnectionError(f"the connection to Redis failed: {exc}") from exc
        except RedisTimeoutError as exc:
            raise TimeoutError(f"Redis did not answer in time: {exc}") from exc
        except RedisError as exc:
            raise ScriptError(str(exc)) from exc


def text_reply(reply: Any) -> Any:
    """A hiredis reply as redis-py with ``decode_responses=True`` gives it (bytes as UTF-8 text)."""
    if isinstance(reply, bytes):
        return reply.decode()
    if isinstance(reply, list):
        return [text_reply(item) for item in reply]
    return reply
