"""Counters in Redis, shared by every gateway process: one script call per request for all its limits.

Why not ``limits``' own Redis storage? It can share the gateway's connection pool
(``RedisStorage("async+redis://", implementation="redispy", connection_pool=...)``) and prefix
(``key_prefix=``), but its moving window stamps entries with the *gateway's* clock
(``time.time()`` sent as an argument), takes one round trip per limit, cannot admit a request in
several limits at once or in none, and has no way to change an entry's cost afterwards (token
settlement, refunds). Those are this plugin's promises, so both steps are Lua of its own
(``acquire.lua``, ``settle.lua``) on the gateway's own client, and ``limits`` names the counters.

The gateway's client is shared with the core, and redis-py's asyncio pool does not wait for a
free connection: past ``max_connections`` (100 by default) a command fails at once with
``MaxConnectionsError``. A burst of requests must not turn into 503s, so this counter keeps at
most half the pool busy, queues the rest, and retries while the core holds the other half, all
within ``redis_timeout``.
"""

from __future__ import annotations

import asyncio
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Sequence

from redis.exceptions import MaxConnectionsError, RedisError

from .counting import CounterUnavailable, Slot, SlotState, Verdict
from .outage import Outage

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisCounter"]

_SCRIPTS = files(__package__)
#: Seconds between attempts while every connection of the shared pool is in use.
_POOL_BUSY_PAUSE = 0.002


class RedisCounter:
    def __init__(self, redis: "Redis", prefix: str) -> None:
        self._prefix = prefix + ":"
        # register_script sends EVALSHA and loads the script only if Redis does not know it yet.
        self._acquire: AsyncScript = redis.register_script(_SCRIPTS.joinpath("acquire.lua").read_text())
        self._settle: AsyncScript = redis.register_script(_SCRIPTS.joinpath("settle.lua").read_text())
        self.outage = Outage()
        pool_size = getattr(redis.connection_pool, "max_connections", None) or 100
        self._in_flight = asyncio.Semaphore(max(1, pool_size // 2))

    def _keys(self, slots: Sequence[Slot]) -> list[str]:
        keys: list[str] = []
        for slot in slots:
            name = self._prefix + slot.name
            keys += (name, name + ":total")
        return keys

    async def acquire(self, slots: Sequence[Slot], member: str, cost: int, timeout: float) -> Verdict:
        args: list[Any] = [member, cost]
        for slot in slots:
            args += (slot.limit, slot.window_ms)
        reply = await self._call(self._acquire, self._keys(slots), args, timeout)
        states = tuple(
            SlotState(used=int(reply[i]), reset_ms=int(reply[i + 1]), charged=int(reply[i + 2]))
            for i in range(2, len(reply), 3)
        )
        return Verdict(allowed=reply[0] == 1, retry_ms=int(reply[1]), slots=states)

    async def settle(self, slots: Sequence[Slot], member: str, charged: Sequence[int], actual: int, timeout: float) -> None:
        await self._call(self._settle, self._keys(slots), [member, actual, *charged], timeout)

    async def _call(self, script: "AsyncScript", keys: list[str], args: list[Any], timeout: float) -> Any:
        if self.outage.paused():
            raise CounterUnavailable("Redis failed a moment ago; not asking again yet")
        try:
            async with asyncio.timeout(timeout), self._in_flight:
                while True:
                    try:
                        reply = await script(keys=keys, args=args)
                        break
                    except MaxConnectionsError:
                        # The core's calls hold the rest of the pool: wait for a connection, as
                        # a blocking pool would, until the timeout says Redis is too slow.
                        await asyncio.sleep(_POOL_BUSY_PAUSE)
        except (RedisError, OSError, TimeoutError) as exc:
            self.outage.failed(exc)
            raise CounterUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self.outage.recovered()
        return reply
