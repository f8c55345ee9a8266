"""Counters in Redis, shared by every gateway process: one script call per request for all its limits.

Why not ``limits``' own Redis storage? It can share the gateway's connection pool
(``RedisStorage("async+redis://", implementation="redispy", connection_pool=...)``) and prefix
(``key_prefix=``), but its moving window stamps entries with the *gateway's* clock
(``time.time()`` sent as an argument), takes one round trip per limit, cannot admit a request in
several limits at once or in none, and has no way to change an entry's cost afterwards (token
settlement, refunds). Those are this plugin's promises, so both steps are Lua of its own
(``acquire.lua``, ``settle.lua``) on the gateway's own client, and ``limits`` names the counters.

The calls go over the gateway's lean script connection (:mod:`aiproxy_core.redis_scripts`): measured, it
costs a small fraction of a redis-py command's Python work per call.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Sequence

from aiproxy_core import ScriptConnection, ScriptError

from .counting import CounterUnavailable, Slot, SlotState, Verdict
from .outage import Outage

__all__ = ["RedisCounter"]

_SCRIPTS = files(__package__)


class RedisCounter:
    def __init__(self, connection: ScriptConnection, prefix: str) -> None:
        self._prefix = prefix + ":"
        self._connection = connection
        self._scripts = {name: _SCRIPTS.joinpath(f"{name}.lua").read_text() for name in ("acquire", "settle")}
        self.outage = Outage()

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
        reply = await self._call("acquire", self._keys(slots), args, timeout)
        states = tuple(
            SlotState(used=int(reply[i]), reset_ms=int(reply[i + 1]), charged=int(reply[i + 2]))
            for i in range(2, len(reply), 3)
        )
        return Verdict(allowed=reply[0] == 1, retry_ms=int(reply[1]), slots=states)

    async def settle(self, slots: Sequence[Slot], member: str, charged: Sequence[int], actual: int, timeout: float) -> None:
        await self._call("settle", self._keys(slots), [member, actual, *charged], timeout)

    async def _call(self, script: str, keys: list[str], args: list[Any], timeout: float) -> Any:
        if self.outage.paused():
            raise CounterUnavailable("Redis failed a moment ago; not asking again yet")
        try:
            reply = await self._connection.evalsha(self._scripts[script], keys, args, timeout)
        except (ScriptError, OSError, TimeoutError) as exc:
            self.outage.failed(exc)
            raise CounterUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self.outage.recovered()
        return reply
