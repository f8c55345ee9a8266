"""Counters and balances on Redis: one Lua script per call, by Redis's own clock.

Keys (``base`` = ``KeySpace.key(tenant, plugin, "c", name)``; the tag after the last ``|`` never
holds one, so two names never share a key; the window is in the key, so a counter whose window
is reconfigured starts afresh instead of misreading the old buckets):

* sliding: ``base|s<W ms>``, a hash ``{s: bucket start ms, c: its count, p: previous bucket's}``,
  expiring when its bucket's successor ends (``PEXPIRE``): about 100 bytes whatever the limit;
* fixed: ``base|f<W ms>``, a hash ``{s, c}`` expiring at its bucket's end;
* exact: ``base|x<W ms>``, a sorted set with one member (``<unique id>|<cost>``, score = ms) per
  admitted call, and ``base|t<W ms>``, their total; both expire with the newest entry;
* balance: ``base|b``, an integer string with no TTL (credits are money).

Every script touches one counter's keys, all in the tenant's ``{tenant}`` slot (cluster-safe),
and reads ``TIME`` itself, so gateway processes whose clocks differ still agree. The check and
the count are one script: nothing can be counted in between. The arithmetic is the one of
``counter_windows.py`` (which the SQLite backend runs), written again in Lua.
"""

from __future__ import annotations

import itertools
import math
import os
import weakref
from typing import TYPE_CHECKING, Any

from .api import Counters, CounterVerdict, Reservation, WindowKind
from .counter_windows import checked_amount, checked_kind, window_ms
from .keyspace import KeySpace

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

    from ..redis_scripts import ScriptConnection

__all__ = ["RedisCounters"]

_CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# ARGV: mode ('a' add, 'p' peek, 'r' refund), cost, limit, window ms.
# Returns {allowed, cur, prev, elapsed ms, retry ms (-1: never), reset ms}.
SLIDING = (
    _CLOCK
    + """
local key, mode = KEYS[1], ARGV[1]
local cost, limit, width = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local start = now - now % width
local elapsed = now - start
local stored = redis.call('HMGET', key, 's', 'c', 'p')
local cur, prev = 0, 0
local at = tonumber(stored[1])
if at == start then
  cur, prev = tonumber(stored[2]), tonumber(stored[3])
elseif at == start - width then
  prev = tonumber(stored[2])
end

if mode == 'r' then
  if cur + prev == 0 then return 0 end
  local taken = math.min(cost, cur)
  redis.call('HSET', key, 's', start, 'c', cur - taken, 'p', math.max(0, prev - (cost - taken)))
  return 0
end

local function count()
  return prev * (width - elapsed) / width + cur
end

local function wait_ms(target)
  if prev * (width - elapsed) + cur * width <= target * width then return 0 end
  if cur <= target then
    local x = math.ceil(width - (target - cur) * width / prev)
    if prev * (width - x) > (target - cur) * width then x = x + 1 end
    return x - elapsed
  end
  local x = math.max(0, math.ceil(width - target * width / cur))
  if cur * (width - x) > target * width then x = x + 1 end
  return width - elapsed + x
end

if cost <= limit and prev * (width - elapsed) + (cur + cost) * width <= limit * width then
  if mode == 'a' and cost > 0 then
    cur = cur + cost
    redis.call('HSET', key, 's', start, 'c', cur, 'p', prev)
    redis.call('PEXPIRE', key, start + 2 * width - now)
  end
  return {1, cur, prev, elapsed, 0, wait_ms(math.max(0, count() - cost))}
end
local retry = -1
if cost <= limit then retry = wait_ms(limit - cost) end
return {0, cur, prev, elapsed, retry, retry}
"""
)

# ARGV as SLIDING. Returns {allowed, cur, retry ms (-1: never), reset ms}.
FIXED = (
    _CLOCK
    + """
local key, mode = KEYS[1], ARGV[1]
local cost, limit, width = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local start = now - now % width
local stored = redis.call('HMGET', key, 's', 'c')
local cur = 0
if tonumber(stored[1]) == start then cur = tonumber(stored[2]) end

if mode == 'r' then
  if cur > 0 then redis.call('HSET', key, 'c', math.max(0, cur - cost)) end
  return 0
end

local left = width - (now - start)
if cost <= limit and cur + cost <= limit then
  if mode == 'a' and cost > 0 then
    cur = cur + cost
    redis.call('HSET', key, 's', start, 'c', cur)
    redis.call('PEXPIRE', key, left)
  end
  local reset = 0
  if cur > math.max(0, cur - cost) then reset = left end
  return {1, cur, 0, reset}
end
local retry = -1
if cost <= limit then retry = left end
return {0, cur, retry, retry}
"""
)

# KEYS: the log, its total. ARGV: mode, cost, limit, window ms, a unique member id.
# Returns {allowed, total, retry ms (-1: never), reset ms}.
EXACT = (
    _CLOCK
    + """
local log, total_key, mode = KEYS[1], KEYS[2], ARGV[1]
local cost, limit, width, id = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]

local function cost_of(entry)
  return tonumber(string.match(entry, '|(%d+)$'))
end

-- Entries counted at or before now - width have left the window.
local total
local gone = redis.call('ZRANGEBYSCORE', log, '-inf', now - width)
if #gone == 0 then
  total = tonumber(redis.call('GET', total_key) or '0')
else
  local freed = 0
  for _, entry in ipairs(gone) do freed = freed + cost_of(entry) end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - width)
  if redis.call('EXISTS', log) == 0 then
    redis.call('DEL', total_key)
    total = 0
  else
    total = redis.call('DECRBY', total_key, freed)
  end
end

if mode == 'r' then
  local left = cost
  while left > 0 do
    local top = redis.call('ZPOPMAX', log)
    if #top == 0 then break end
    local c = cost_of(top[1])
    if c > left then
      redis.call('ZADD', log, top[2], string.match(top[1], '^(.*)|') .. '|' .. (c - left))
      left = 0
    else
      left = left - c
    end
  end
  local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
  if newest[2] then
    redis.call('DECRBY', total_key, cost - left)
    local ttl = math.max(1, tonumber(newest[2]) + width - now)
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', total_key, ttl)
  else
    redis.call('DEL', total_key)
  end
  return 0
end

-- The wait until the oldest entries that must go for the total to be at most target have gone.
local function wait_ms(target)
  local need = total - target
  if need <= 0 then return 0 end
  local freed, first = 0, 0
  while true do
    local page = redis.call('ZRANGE', log, first, first + 127, 'WITHSCORES')
    if #page == 0 then return width end
    for j = 1, #page, 2 do
      freed = freed + cost_of(page[j])
      if freed >= need then return tonumber(page[j + 1]) + width - now end
    end
    first = first + 128
  end
end

if cost <= limit and total + cost <= limit then
  if mode == 'a' and cost > 0 then
    redis.call('ZADD', log, now, id .. '|' .. cost)
    total = redis.call('INCRBY', total_key, cost)
    redis.call('PEXPIRE', log, width)
    redis.call('PEXPIRE', total_key, width)
  end
  return {1, total, 0, wait_ms(math.max(0, total - cost))}
end
local retry = -1
if cost <= limit then retry = wait_ms(limit - cost) end
return {0, total, retry, retry}
"""
)

# ARGV: amount, ceiling. Returns the new balance, or -1 (nothing added) past the ceiling.
CREDIT = """
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
if balance + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""

# ARGV: amount. Returns the new balance, or -1 (nothing taken) when the balance is smaller.
RESERVE = """
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
if balance < tonumber(ARGV[1]) then return -1 end
return redis.call('DECRBY', KEYS[1], ARGV[1])
"""

# ARGV: owed = spent - reserved. Gives back -owed, or takes owed down to zero; returns the shortfall.
SETTLE = """
local owed = tonumber(ARGV[1])
if owed < 0 then redis.call('INCRBY', KEYS[1], -owed) end
if owed <= 0 then return 0 end
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
local taken = math.min(balance, owed)
if taken > 0 then redis.call('DECRBY', KEYS[1], taken) end
return owed - taken
"""


class _Scripts:
    def __init__(self, redis: "Redis") -> None:
        self.sliding = redis.register_script(SLIDING)
        self.fixed = redis.register_script(FIXED)
        self.exact = redis.register_script(EXACT)
        self.credit = redis.register_script(CREDIT)
        self.reserve = redis.register_script(RESERVE)
        self.settle = redis.register_script(SETTLE)


#: Scripts registered once per client (a RedisCounters is made per call of ``counters(tenant)``).
_registered: "weakref.WeakKeyDictionary[Any, _Scripts]" = weakref.WeakKeyDictionary()

#: Exact-log members must be unique across processes: a random process tag and a sequence.
_PROCESS_TAG = os.urandom(6).hex()
_sequence = itertools.count()


def _seconds(ms: int) -> float:
    return math.inf if ms < 0 else ms / 1000


class RedisCounters(Counters):
    def __init__(self, redis: "Redis", scripts: "ScriptConnection | None", keys: KeySpace, plugin: str, tenant_id: str) -> None:
        self._redis = redis
        self._keys = keys
        self._plugin = plugin
        self._tenant = tenant_id
        registered = _registered.get(redis)
        if registered is None:
            registered = _registered[redis] = _Scripts(redis)
        self._scripts = registered

    def _base(self, name: str) -> str:
        return self._keys.key(self._tenant, self._plugin, "c", name)

    # -- windows ---------------------------------------------------------------------------

    async def add(self, name: str, cost: int, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        return await self._call("a", name, checked_amount(cost, "cost"), checked_amount(limit, "limit"), window, kind)

    async def peek(self, name: str, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        return await self._call("p", name, 1, checked_amount(limit, "limit"), window, kind)

    async def refund(self, name: str, cost: int, *, window: float, kind: WindowKind = "sliding") -> None:
        await self._call("r", name, checked_amount(cost, "cost"), 0, window, kind)

    async def _call(self, mode: str, name: str, cost: int, limit: int, window: float, kind: str) -> CounterVerdict:
        base, width, kind = self._base(name), window_ms(window), checked_kind(kind)
        scripts = self._scripts
        if kind == "sliding":
            reply = await scripts.sliding(keys=[f"{base}|s{width}"], args=[mode, cost, limit, width])
            if mode == "r":
                return _REFUNDED
            allowed, cur, prev, elapsed, retry, reset = (int(part) for part in reply)
            count = prev * (width - elapsed) / width + cur
        elif kind == "fixed":
            reply = await scripts.fixed(keys=[f"{base}|f{width}"], args=[mode, cost, limit, width])
            if mode == "r":
                return _REFUNDED
            allowed, count, retry, reset = (int(part) for part in reply)
        else:
            member = f"{_PROCESS_TAG}{next(_sequence)}"
            reply = await scripts.exact(keys=[f"{base}|x{width}", f"{base}|t{width}"], args=[mode, cost, limit, width, member])
            if mode == "r":
                return _REFUNDED
            allowed, count, retry, reset = (int(part) for part in reply)
        return CounterVerdict(
            allowed=allowed == 1,
            count=count,
            limit=limit,
            remaining=max(0.0, limit - count),
            retry_after=_seconds(retry),
            reset_after=_seconds(reset),
        )

    # -- balances --------------------------------------------------------------------------

    async def balance(self, name: str) -> int:
        return int(await self._redis.get(self._base(name) + "|b") or 0)

    async def credit(self, name: str, amount: int, *, ceiling: int | None = None) -> int | None:
        key, amount = self._base(name) + "|b", checked_amount(amount, "amount")
        if ceiling is None:
            return int(await self._redis.incrby(key, amount))
        balance = int(await self._scripts.credit(keys=[key], args=[amount, checked_amount(ceiling, "ceiling")]))
        return None if balance < 0 else balance

    async def reserve(self, name: str, amount: int) -> Reservation | None:
        key, amount = self._base(name) + "|b", checked_amount(amount, "amount")
        balance = int(await self._scripts.reserve(keys=[key], args=[amount]))
        return None if balance < 0 else Reservation(name=name, amount=amount)

    async def settle(self, reservation: Reservation, spent: int) -> int:
        key, spent = self._base(reservation.name) + "|b", checked_amount(spent, "spent amount")
        return int(await self._scripts.settle(keys=[key], args=[spent - reservation.amount]))


#: What the refund path returns to ``_call`` (refund itself returns None).
_REFUNDED = CounterVerdict(allowed=True, count=0, limit=0, remaining=0, retry_after=0, reset_after=0)
