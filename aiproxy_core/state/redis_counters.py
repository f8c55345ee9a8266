"""Counters and balances on Redis: one Lua script per call, by Redis's own clock.

Keys (``base`` = ``KeySpace.key(tenant, plugin, "c", name)``; the tag after the last ``|`` never
holds one, so two names never share a key; the window is in the key, so a counter whose window
is reconfigured starts afresh instead of misreading the old buckets):

* sliding: ``base|s<W ms>``, a hash ``{s: bucket start ms, c: its count, p: previous bucket's}``,
  expiring when its bucket's successor ends (``PEXPIRE``): about 100 bytes whatever the limit;
* fixed: ``base|f<W ms>``, a hash ``{s, c}`` expiring at its bucket's end;
* exact: ``base|x<W ms>``, a sorted set with one member (``<unique id>|<cost>``, score = ms) per
  admitted call, and ``base|t<W ms>``, their total; both expire at one moment, when the newest
  entry leaves the window (a total found without its log is reset);
* balance: ``base|b``, an integer string with no TTL (credits are money).

Every script touches keys of one tenant only (one counter's, or several of ``add_all``), all in
the tenant's ``{tenant}`` slot (cluster-safe),
and reads ``TIME`` itself, so gateway processes whose clocks differ still agree. With the
process's script connection, the sliding and fixed counts of one event-loop turn run as one script
(:mod:`.redis_count_batch`, whose script a Redis Cluster runs per call). The check and
the count are one script: nothing can be counted in between. The arithmetic is the one of
``counter_windows.py`` (which the SQLite backend runs), written again in Lua. ``add``, ``peek``
and ``add_all`` are one script (COUNT; COUNT_MANY of :mod:`.redis_count_batch` when every counter
is sliding or fixed), ``refund`` and ``refund_all`` another (REFUND).
"""

from __future__ import annotations

import itertools
import math
import os
from typing import TYPE_CHECKING, Any, Awaitable, NamedTuple, Sequence

from ..redis_scripts import RequestScript
from .api import Counters, CounterRefund, CounterRequest, CounterVerdict, Reservation, WindowKind, new_verdict
from .counter_windows import FixedBucket, SlidingBuckets, checked_amount, checked_kind, window_ms
from .keyspace import KeySpace
from .redis_count_batch import COUNT_MANY, count_many_arguments

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..redis_scripts import ScriptConnection
    from .redis_count_batch import CountBatch

__all__ = ["RedisCounters"]

_CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# One call counts in several counters of one tenant, all or none (``add``/``peek`` are one
# counter's case). KEYS: per counter, its hash (sliding 's', fixed 'f') or its log and total
# (exact 'x'). ARGV: mode ('a' add, 'p' peek), n, a unique member id (exact logs), then per
# counter: kind, cost, limit, window ms. Returns per counter {fits, cur, prev, elapsed ms, retry
# ms (-1: never), reset ms} (prev and elapsed are 0 but for sliding); something is counted only
# when every counter fits.
COUNT = (
    _CLOCK
    + """
local mode, n, member = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local function cost_of(entry)
  return tonumber(string.match(entry, '|(%d+)$'))
end

local function load(s)
  local width = s.width
  s.start = now - now % width
  s.elapsed = now - s.start
  s.cur, s.prev = 0, 0
  if s.kind == 'x' then
    -- Entries counted at or before now - width have left the window.
    local gone = redis.call('ZRANGEBYSCORE', s.key, '-inf', now - width)
    if #gone == 0 then
      s.cur = tonumber(redis.call('GET', s.total) or '0')
      if s.cur > 0 and redis.call('EXISTS', s.key) == 0 then
        -- A total without its log (it outlived it: expiries set apart by an older version, an
        -- eviction, a manual DEL): nothing it counted can be shown to be in the window, so the
        -- counter starts afresh rather than refuse on it until it expires.
        redis.call('DEL', s.total)
        s.cur = 0
      end
    else
      local freed = 0
      for _, entry in ipairs(gone) do freed = freed + cost_of(entry) end
      redis.call('ZREMRANGEBYSCORE', s.key, '-inf', now - width)
      if redis.call('EXISTS', s.key) == 0 then
        redis.call('DEL', s.total)
      else
        s.cur = redis.call('DECRBY', s.total, freed)
      end
    end
    return
  end
  local stored = redis.call('HMGET', s.key, 's', 'c', 'p')
  local at = tonumber(stored[1])
  if at == s.start then
    s.cur = tonumber(stored[2])
    if s.kind == 's' then s.prev = tonumber(stored[3]) end
  elseif s.kind == 's' and at == s.start - width then
    s.prev = tonumber(stored[2])
  end
end

-- prev is 0 but for sliding, so one test serves the three kinds.
local function fits(s)
  local width = s.width
  return s.cost <= s.limit and s.prev * (width - s.elapsed) + (s.cur + s.cost) * width <= s.limit * width
end

local function count(s)
  return s.prev * (s.width - s.elapsed) / s.width + s.cur
end

local function write(s)
  local width = s.width
  s.cur = s.cur + s.cost
  if s.kind == 's' then
    redis.call('HSET', s.key, 's', s.start, 'c', s.cur, 'p', s.prev)
    redis.call('PEXPIRE', s.key, s.start + 2 * width - now)
  elseif s.kind == 'f' then
    redis.call('HSET', s.key, 's', s.start, 'c', s.cur)
    redis.call('PEXPIRE', s.key, width - s.elapsed)
  else
    redis.call('ZADD', s.key, now, member .. s.index .. '|' .. s.cost)
    s.cur = redis.call('INCRBY', s.total, s.cost)
    -- One absolute moment for both: two relative PEXPIREs could fall a millisecond apart, and
    -- in that millisecond the total would outlive its log.
    redis.call('PEXPIREAT', s.key, now + width)
    redis.call('PEXPIREAT', s.total, now + width)
  end
end

-- Milliseconds until the count is at most target if nothing else is counted.
local function wait_ms(s, target)
  local prev, cur, elapsed, width = s.prev, s.cur, s.elapsed, s.width
  if s.kind == 'f' then
    if cur <= target then return 0 end
    return width - elapsed
  end
  if s.kind == 'x' then
    local need = cur - target
    if need <= 0 then return 0 end
    local freed, first = 0, 0
    while true do
      local page = redis.call('ZRANGE', s.key, first, first + 127, 'WITHSCORES')
      if #page == 0 then return width end
      for j = 1, #page, 2 do
        freed = freed + cost_of(page[j])
        if freed >= need then return tonumber(page[j + 1]) + width - now end
      end
      first = first + 128
    end
  end
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

local counters, all = {}, true
local k, a = 1, 4
for i = 1, n do
  local s = {index = i, kind = ARGV[a], cost = tonumber(ARGV[a + 1]), limit = tonumber(ARGV[a + 2]), width = tonumber(ARGV[a + 3]), key = KEYS[k]}
  a = a + 4
  if s.kind == 'x' then s.total = KEYS[k + 1]; k = k + 2 else k = k + 1 end
  load(s)
  s.fits = fits(s)
  all = all and s.fits
  counters[i] = s
end

local reply = {}
for i = 1, n do
  local s = counters[i]
  if all and mode == 'a' and s.cost > 0 then write(s) end
  local fit, retry, reset = 0, -1, -1
  if s.fits then
    fit, retry, reset = 1, 0, wait_ms(s, math.max(0, count(s) - s.cost))
  elseif s.cost <= s.limit then
    retry = wait_ms(s, s.limit - s.cost)
    reset = retry
  end
  for _, part in ipairs({fit, s.cur, s.prev, s.elapsed, retry, reset}) do table.insert(reply, part) end
end
return reply
"""
)

# Takes back costs counted earlier, never below zero. KEYS as COUNT. ARGV: n, then per counter:
# kind, cost, window ms.
REFUND = (
    _CLOCK
    + """
local function cost_of(entry)
  return tonumber(string.match(entry, '|(%d+)$'))
end

local k, a = 1, 2
for i = 1, tonumber(ARGV[1]) do
  local kind, cost, width, key = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), KEYS[k]
  a = a + 3
  local start = now - now % width
  if kind == 's' then
    k = k + 1
    local stored = redis.call('HMGET', key, 's', 'c', 'p')
    local at, cur, prev = tonumber(stored[1]), 0, 0
    if at == start then
      cur, prev = tonumber(stored[2]), tonumber(stored[3])
    elseif at == start - width then
      prev = tonumber(stored[2])
    end
    if cur + prev > 0 then
      -- From this bucket first, then from the previous one (which still weighs on the window).
      local taken = math.min(cost, cur)
      redis.call('HSET', key, 's', start, 'c', cur - taken, 'p', math.max(0, prev - (cost - taken)))
    end
  elseif kind == 'f' then
    k = k + 1
    local stored = redis.call('HMGET', key, 's', 'c')
    if tonumber(stored[1]) == start and tonumber(stored[2]) > 0 then
      redis.call('HSET', key, 'c', math.max(0, tonumber(stored[2]) - cost))
    end
  else
    local log, total_key = key, KEYS[k + 1]
    k = k + 2
    local gone = redis.call('ZRANGEBYSCORE', log, '-inf', now - width)
    if #gone > 0 then
      local freed = 0
      for _, entry in ipairs(gone) do freed = freed + cost_of(entry) end
      redis.call('ZREMRANGEBYSCORE', log, '-inf', now - width)
      if redis.call('EXISTS', log) == 0 then redis.call('DEL', total_key) else redis.call('DECRBY', total_key, freed) end
    end
    -- The newest entries first: what was counted last is what is being taken back.
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
      -- Later than now: entries at or before now - width were removed above.
      local ends = tonumber(newest[2]) + width
      redis.call('PEXPIREAT', log, ends)
      redis.call('PEXPIREAT', total_key, ends)
    else
      redis.call('DEL', total_key)
    end
  end
end
return 0
"""
)

BALANCE = "return redis.call('GET', KEYS[1])"
ADD_TO_BALANCE = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

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


_count = RequestScript(COUNT)
_count_many = RequestScript(COUNT_MANY)
_refund = RequestScript(REFUND)
_balance = RequestScript(BALANCE)
_add_to_balance = RequestScript(ADD_TO_BALANCE)
_credit = RequestScript(CREDIT)
_reserve = RequestScript(RESERVE)
_settle = RequestScript(SETTLE)

#: Exact-log members must be unique across processes: a random process tag and a sequence.
_PROCESS_TAG = os.urandom(6).hex()
_sequence = itertools.count()

_KIND_TAGS = {"sliding": "s", "fixed": "f", "exact": "x"}


class _Prepared(NamedTuple):
    """A counting call's KEYS, its per-counter arguments (kind tag, cost, limit, window ms), the
    windows in ms, and whether every counter is sliding or fixed. Shared: never mutated."""

    keys: list[str]
    counters: list[Any]
    widths: list[int]
    buckets_only: bool


#: Recent calls' preparations by key prefix, tenant, plugin and requests; cleared when full.
_PREPARED: dict[tuple[Any, ...], _Prepared] = {}
_PREPARED_MAX = 4096

#: No requests tuple is this (RedisCounters._last before the first call).
_NOTHING = object()


def _once(seen: set[tuple[str, str, int]], name: str, tag: str, width: int) -> None:
    if (name, tag, width) in seen:
        raise ValueError("a counter (name, kind, window) may appear only once in one call")
    seen.add((name, tag, width))


def _bucket_verdicts(requests: Sequence[CounterRequest], widths: list[int], parts: list[int]) -> list[CounterVerdict]:
    """Verdicts from COUNT_MANY's reply for one call, the waits computed as COUNT computes them in
    Lua (a call whose counters are all sliding or fixed needs only the check and the write in
    Redis: its waits follow from what it returns)."""
    allowed = 0 not in parts[::4]  # each counter's fits flag is 1 or 0: one search in C, no generator
    verdicts = []
    for i, (request, width) in enumerate(zip(requests, widths)):
        fits, cur, prev, elapsed = parts[4 * i : 4 * i + 4]
        window: SlidingBuckets | FixedBucket = (
            SlidingBuckets(prev, cur, elapsed, width) if request.kind == "sliding" else FixedBucket(cur, elapsed, width)
        )
        count = window.count()
        if fits:
            retry, reset = 0.0, window.wait_ms(max(0.0, count - request.cost)) / 1000
        elif request.cost <= request.limit:
            retry = reset = window.wait_ms(request.limit - request.cost) / 1000
        else:
            retry = reset = math.inf
        verdicts.append(new_verdict(allowed, count, request.limit, retry, reset))
    return verdicts


def _seconds(ms: int) -> float:
    return math.inf if ms < 0 else ms / 1000


class RedisCounters(Counters):
    """``scripts`` (the process's :class:`ScriptConnection`) carries every call when given: the
    calls of one event-loop turn, of every plugin, leave in one write. Without it (a Redis
    Cluster) each call is an EVALSHA on the redis-py client. Either way a store that cannot be
    reached raises the builtin ``ConnectionError`` or ``TimeoutError`` (redis-py's own are
    translated), and any other error Redis answers with is a :class:`~aiproxy_core.ScriptError`."""

    def __init__(
        self,
        redis: "Redis",
        scripts: "ScriptConnection | None",
        keys: KeySpace,
        plugin: str,
        tenant_id: str,
        batch: "CountBatch | None" = None,
    ) -> None:
        self._redis = redis
        self._fast = scripts
        #: The process's one batch of this turn's sliding and fixed counts (with ``scripts``).
        self._batch = batch
        self._keys = keys
        self._plugin = plugin
        self._tenant = tenant_id
        #: The last remembered requests tuple and its preparation: a rate limiter passes the same
        #: tuple object on every request of a subject, found here by identity, with no memo key
        #: to build and hash (the tuple is kept referenced, so its id cannot be reused meanwhile).
        self._last: tuple[object, _Prepared | None] = (_NOTHING, None)

    def _base(self, name: str) -> str:
        return self._keys.key(self._tenant, self._plugin, "c", name)

    async def _run(self, script: RequestScript, keys: list[str], args: list[Any], timeout: float | None = None) -> Any:
        # RequestScript raises the builtin ConnectionError/TimeoutError and ScriptError on both paths.
        return await script(self._fast, self._redis, keys, args, timeout=timeout)

    def _counter_keys(self, keys: list[str], name: str, tag: str, width: int) -> None:
        base = self._base(name)
        if tag == "x":
            keys += (f"{base}|x{width}", f"{base}|t{width}")
        else:
            keys.append(f"{base}|{tag}{width}")

    # -- windows ---------------------------------------------------------------------------

    async def add(self, name: str, cost: int, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        (verdict,) = await self._count("a", [CounterRequest(name, cost, limit=limit, window=window, kind=kind)])
        return verdict

    def add_all(self, requests: Sequence[CounterRequest], *, timeout: float | None = None) -> Awaitable[list[CounterVerdict]]:
        # The counting coroutine itself: a rate-limited request awaits one level fewer.
        return self._count("a", requests, timeout)

    async def peek(self, name: str, *, limit: int, window: float, kind: WindowKind = "sliding") -> CounterVerdict:
        (verdict,) = await self._count("p", [CounterRequest(name, 1, limit=limit, window=window, kind=kind)])
        return verdict

    def _prepared(self, requests: Sequence[CounterRequest]) -> _Prepared:
        """The call's keys and arguments, checked; remembered for the same requests (a rate
        limiter asks the same few counter sets on every request: building and checking them was
        ~5 % of the gateway's CPU under load)."""
        last, last_prepared = self._last
        if requests is last and last_prepared is not None:
            return last_prepared
        memo = self._memo_key(requests)
        prepared = _PREPARED.get(memo) if memo is not None else None
        if prepared is None:
            prepared = self._prepare(requests)
            if memo is not None:
                if len(_PREPARED) >= _PREPARED_MAX:
                    _PREPARED.clear()
                _PREPARED[memo] = prepared
        if memo is not None and type(requests) is tuple:  # a tuple of frozen requests cannot change
            self._last = (requests, prepared)
        return prepared

    def _prepare(self, requests: Sequence[CounterRequest]) -> _Prepared:
        keys: list[str] = []
        counters: list[Any] = []
        widths: list[int] = []
        seen: set[tuple[str, str, int]] = set()
        for request in requests:
            cost, limit = checked_amount(request.cost, "cost"), checked_amount(request.limit, "limit")
            width, tag = window_ms(request.window), _KIND_TAGS[checked_kind(request.kind)]
            _once(seen, request.name, tag, width)
            self._counter_keys(keys, request.name, tag, width)
            counters += (tag, cost, limit, width)
            widths.append(width)
        return _Prepared(keys, counters, widths, all(tag != "x" for _, tag, _ in seen))

    def _memo_key(self, requests: Sequence[CounterRequest]) -> tuple[Any, ...] | None:
        """What a preparation is remembered by, or None (not remembered, so checked every time)
        when a field is not of its plain type: ``True`` equals ``1`` and must still be refused."""
        parts: list[Any] = [self._keys.prefix, self._tenant, self._plugin]
        for r in requests:
            if type(r.cost) is not int or type(r.limit) is not int or type(r.name) is not str or type(r.kind) is not str:
                return None
            if type(r.window) is not int and type(r.window) is not float:
                return None
            parts.append((r.name, r.cost, r.limit, r.window, r.kind))
        return tuple(parts)

    async def _count(self, mode: str, requests: Sequence[CounterRequest], timeout: float | None = None) -> list[CounterVerdict]:
        if not requests:
            return []
        keys, counters, widths, buckets_only = self._prepared(requests)
        if buckets_only:
            if self._batch is not None:
                parts = await self._batch.count(mode, keys, counters, timeout or 5.0)
            else:
                many_keys, many_args = count_many_arguments([(mode, keys, counters)])
                parts = [int(part) for part in await self._run(_count_many, many_keys, many_args, timeout)]
            return _bucket_verdicts(requests, widths, parts)
        args: list[Any] = [mode, len(requests), f"{_PROCESS_TAG}{next(_sequence)}:", *counters]
        parts = [int(part) for part in await self._run(_count, keys, args, timeout)]
        allowed = all(parts[i] == 1 for i in range(0, len(parts), 6))
        verdicts = []
        for i, (request, width) in enumerate(zip(requests, widths)):
            _, cur, prev, elapsed, retry, reset = parts[6 * i : 6 * i + 6]
            count = prev * (width - elapsed) / width + cur if prev else cur
            verdicts.append(new_verdict(allowed, count, request.limit, _seconds(retry), _seconds(reset)))
        return verdicts

    async def refund(self, name: str, cost: int, *, window: float, kind: WindowKind = "sliding") -> None:
        await self.refund_all([CounterRefund(name, cost, window=window, kind=kind)])

    async def refund_all(self, refunds: Sequence[CounterRefund], *, timeout: float | None = None) -> None:
        keys: list[str] = []
        args: list[Any] = [len(refunds)]
        seen: set[tuple[str, str, int]] = set()
        for refund in refunds:
            cost, width, tag = checked_amount(refund.cost, "cost"), window_ms(refund.window), _KIND_TAGS[checked_kind(refund.kind)]
            _once(seen, refund.name, tag, width)
            self._counter_keys(keys, refund.name, tag, width)
            args += (tag, cost, width)
        if refunds:
            await self._run(_refund, keys, args, timeout)

    # -- balances --------------------------------------------------------------------------

    async def balance(self, name: str) -> int:
        return int(await self._run(_balance, [self._base(name) + "|b"], []) or 0)

    async def credit(self, name: str, amount: int, *, ceiling: int | None = None) -> int | None:
        key, amount = self._base(name) + "|b", checked_amount(amount, "amount")
        if ceiling is None:
            return int(await self._run(_add_to_balance, [key], [amount]))
        balance = int(await self._run(_credit, [key], [amount, checked_amount(ceiling, "ceiling")]))
        return None if balance < 0 else balance

    async def reserve(self, name: str, amount: int) -> Reservation | None:
        key, amount = self._base(name) + "|b", checked_amount(amount, "amount")
        balance = int(await self._run(_reserve, [key], [amount]))
        return None if balance < 0 else Reservation(name=name, amount=amount)

    async def settle(self, reservation: Reservation, spent: int) -> int:
        key, spent = self._base(reservation.name) + "|b", checked_amount(spent, "spent amount")
        return int(await self._run(_settle, [key], [spent - reservation.amount]))
