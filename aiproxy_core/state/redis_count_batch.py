"""Every sliding- and fixed-window count of one event-loop turn in one script run on Redis.

Under load a gateway admits tens of requests per event-loop turn, and each asks the rate limiter's
counters (often the same counter: one busy consumer). One EVALSHA each cost Redis ~8 µs hot, and
more than 20 µs when Redis is lightly loaded (a cold cache per call: measured with INFO
commandstats under the monetized benchmark); the script's own work is ~2 µs. So the calls of a
turn are handed to Redis as one script run that takes them in order, reads each distinct counter
once, and writes each changed counter once: what each call sees is exactly what it would have seen
had the calls run one after another (they did, inside the script), and each call is still all or
none over its own counters.

Batched only with the process's :class:`~aiproxy_core.redis_scripts.ScriptConnection` (one Redis
server, where every key is on the one server); on a Redis Cluster each call runs the same script
alone, routed by its tenant's slot.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..redis_scripts import ScriptConnection

__all__ = ["COUNT_MANY", "CountBatch", "count_many_arguments"]

# KEYS: each distinct counter hash once. ARGV: the number of calls, then per call: mode ('a' add,
# 'p' peek), n, and per counter: kind ('s' sliding, 'f' fixed), cost, limit, window ms, its KEYS
# index. Returns per call, per counter: fits, cur (after the write), prev, elapsed ms.
COUNT_MANY = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local loaded = {}
local function load(index, kind, width)
  local s = loaded[index]
  if s then return s end
  local start = now - now % width
  s = {kind = kind, width = width, start = start, elapsed = now - start, cur = 0, prev = 0, added = 0}
  local stored = redis.call('HMGET', KEYS[index], 's', 'c', 'p')
  local at = tonumber(stored[1])
  s.same = at == start
  if s.same then
    s.cur = tonumber(stored[2])
    if kind == 's' then s.prev = tonumber(stored[3]) end
  elseif kind == 's' and at == start - width then
    s.prev = tonumber(stored[2])
  end
  loaded[index] = s
  return s
end
local reply, a, r = {}, 2, 0
for _ = 1, tonumber(ARGV[1]) do
  local mode, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local group, all = {}, true
  for i = 1, n do
    local cost, limit = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    local s = load(tonumber(ARGV[a + 4]), ARGV[a], tonumber(ARGV[a + 3]))
    a = a + 5
    local width = s.width
    local fits = cost <= limit and s.prev * (width - s.elapsed) + (s.cur + cost) * width <= limit * width
    all = all and fits
    group[i] = {s, cost, fits}
  end
  for i = 1, n do
    local s, cost, fits = group[i][1], group[i][2], group[i][3]
    if all and mode == 'a' and cost > 0 then
      s.cur = s.cur + cost
      s.added = s.added + cost
    end
    reply[r + 1] = fits and 1 or 0
    reply[r + 2] = s.cur
    reply[r + 3] = s.prev
    reply[r + 4] = s.elapsed
    r = r + 4
  end
end
for index, s in pairs(loaded) do
  if s.added > 0 then
    if s.same then
      -- The same bucket: only its count moves; its expiry was set when the bucket began.
      redis.call('HINCRBY', KEYS[index], 'c', s.added)
    elseif s.kind == 's' then
      redis.call('HSET', KEYS[index], 's', s.start, 'c', s.cur, 'p', s.prev)
      redis.call('PEXPIREAT', KEYS[index], s.start + 2 * s.width)
    else
      redis.call('HSET', KEYS[index], 's', s.start, 'c', s.cur)
      redis.call('PEXPIREAT', KEYS[index], s.start + s.width)
    end
  end
end
return reply
"""

#: The most calls one script run takes (Redis runs nothing else meanwhile); more wait for the next.
MAX_CALLS = 256

_Call = tuple[str, list[str], list[Any], float, "asyncio.Future[list[int]]"]


def count_many_arguments(calls: list[tuple[str, list[str], list[Any]]]) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of COUNT_MANY for ``(mode, keys, counters)`` calls: each distinct key once
    (a busy counter asked by many calls is read and written once). One call alone is how a Redis
    Cluster runs it, routed by that call's slot."""
    keys: list[str] = []
    index_of: dict[str, int] = {}
    args: list[Any] = [len(calls)]
    for mode, call_keys, counters in calls:
        args += (mode, len(call_keys))
        for key, position in zip(call_keys, range(0, len(counters), 4)):
            index = index_of.get(key)
            if index is None:
                keys.append(key)
                index = index_of[key] = len(keys)
            args += (*counters[position : position + 4], index)
    return keys, args


class CountBatch:
    """One per script connection: ``await batch.count(mode, keys, counters, timeout)``, where
    ``counters`` is ``[kind tag, cost, limit, window ms]`` per key; returns the four integers per
    counter of the reply."""

    def __init__(self, scripts: "ScriptConnection") -> None:
        self._scripts = scripts
        self._waiting: list[_Call] = []
        #: The loop of the flush scheduled for this turn (None: none is): the caller's own, found
        #: once per turn (``asyncio.get_running_loop()`` is a ``getpid`` system call per call on
        #: Python 3.11).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def count(self, mode: str, keys: list[str], counters: list[Any], timeout: float) -> "asyncio.Future[list[int]]":
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            # call_soon: after the callbacks already queued for this turn, so every request of
            # the turn that reaches its limiter joins this run.
            loop.call_soon(self._flush, loop)
        future: asyncio.Future[list[int]] = loop.create_future()
        self._waiting.append((mode, keys, counters, timeout, future))
        return future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = None
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), MAX_CALLS):
            task = loop.create_task(self._run(waiting[start : start + MAX_CALLS]))
            self._tasks.add(task)  # referenced until done (a bare task may be collected mid-call)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, calls: list[_Call]) -> None:
        keys, args = count_many_arguments([(mode, call_keys, counters) for mode, call_keys, counters, _, _ in calls])
        try:
            reply = await self._scripts.evalsha(COUNT_MANY, keys, args, timeout=min(call[3] for call in calls))
        except BaseException as exc:  # every caller learns its count failed
            for call in calls:
                if not call[4].done():
                    call[4].set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        at = 0
        for _, call_keys, _, _, future in calls:
            end = at + 4 * len(call_keys)
            if not future.done():  # its caller may have been cancelled (the client left)
                future.set_result(reply[at:end])
            at = end
