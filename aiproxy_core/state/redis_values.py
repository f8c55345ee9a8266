"""Values on the gateway's Redis (one server or a Cluster: every key of a call is one tenant's).

Layout: ``{prefix}:st:{<tenant>}:<plugin>:v:<key>`` (:class:`KeySpace`). A plain value is a Redis
string holding ``j<json>`` or ``b<base64>`` (:mod:`.value_codec`); a record of integer fields
(:meth:`increment`) is a hash of field to integer. TTLs are Redis's own (``PX``/``PEXPIRE``), so
Redis frees expired keys itself.

The two kinds are kept apart: ``get``/``compare_and_set`` read strings, ``increment``/``fields``
hashes; ``get`` of a field record or ``increment`` of a plain value is a ValueError saying so
(``compare_and_set`` on a field record simply fails: the key does not hold the expected value).
``set``, ``set_if_absent`` and ``delete`` see a key of either kind.

Every call a request path makes (``get`` ... ``atomic``) is one Lua script (:class:`RequestScript`):
over the process's :class:`ScriptConnection` when it has one, so the calls of one event-loop turn,
every plugin's, leave in one write (measured: ~20-30 µs of gateway CPU a call in a busy turn,
~45-80 alone, against redis-py's ~120-240); over the redis-py client when it has none (a Redis
Cluster). Both paths return the same results and raise the same errors (:class:`RequestScript`). ``keys`` and ``delete_prefix`` SCAN
through redis-py (admin and background paths). Every script touches only keys of one tenant, so
it runs on a Redis Cluster unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..redis_keys import delete_matching
from ..redis_scripts import RequestScript
from .api import CompareAndSet, Delete, Increment, OnceStep, Operation, Set, SetIfAbsent, Value, Values
from .keyspace import KeySpace, checked_key
from .once_steps import checked_once_steps
from .value_codec import check_fields, decode, encode, field_overflow, ttl_milliseconds, wrong_kind_for_increment

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..redis_scripts import ScriptConnection

__all__ = ["RedisValues"]

#: Keys per SCAN step (``keys`` and ``delete_prefix``).
SCAN_COUNT = 1000

# The one-command calls as scripts, so they too ride the script connection (EVALSHA costs Redis
# little more than the command). A wrong kind of key is returned, not raised, so both client
# paths report it the same way. KEYS: the key.

# Returns the string, nil, or {'wrongtype'} (the key holds fields).
_GET = """
local value = redis.pcall('GET', KEYS[1])
if type(value) == 'table' then return {'wrongtype'} end
return value
"""

# ARGV: the value, ttl in ms ('' = none). Overwrites a key of either kind.
_SET = """
if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
"""

# ARGV: the value, ttl in ms ('' = none). 1 when written.
_SET_IF_ABSENT = """
local written
if ARGV[2] == '' then
  written = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  written = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
end
if written then return 1 end
return 0
"""

_DELETE = "return redis.call('DEL', KEYS[1])"

# Returns the flat field, amount list, or 'wrongtype' (the key holds a value).
_FIELDS = """
local reply = redis.pcall('HGETALL', KEYS[1])
if reply['err'] then return 'wrongtype' end
return reply
"""

# KEYS: the key. ARGV: expected (encoded; '' = absent), the new value, ttl in ms ('' = none).
_COMPARE_AND_SET = """
local kind = redis.call('TYPE', KEYS[1]).ok
if ARGV[1] == '' then
  if kind ~= 'none' then return 0 end
elseif kind ~= 'string' or redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""

# KEYS: the key. ARGV: ttl in ms ('' = none), then field, amount pairs. Everything is checked
# before the first write (a wrong kind, an overflow), so an error leaves the record as it was.
# Returns the record's fields (HGETALL), or a string saying why nothing was written.
_INCREMENT = """
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' and kind ~= 'hash' then return 'wrongtype' end
for i = 2, #ARGV, 2 do
  local current = 0
  if kind == 'hash' then current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') end
  if math.abs(current + tonumber(ARGV[i + 1])) >= 9.2e18 then return 'overflow:' .. ARGV[i] end
end
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
if kind == 'none' and ARGV[1] ~= '' and #ARGV > 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: one per operation. ARGV: per operation its code and arguments:
#   S/A (set, set-if-absent): value, ttl | C (compare-and-set): expected, value, ttl | D (delete)
#   I (increment): ttl, n, then n field, amount pairs.
# 1) conditions against the state before the step; 2) a dry run of the kinds and field totals
# the operations would leave (a wrong kind or an overflow stops everything before any write);
# 3) every write. Returns 1 (applied), 0 (a condition failed), 'wrongtype:<i>:' or 'overflow:<i>:<field>'.
_ATOMIC = """
local ops, pos = {}, 1
for i = 1, #KEYS do
  local op = {code = ARGV[pos], key = KEYS[i]}
  if op.code == 'S' or op.code == 'A' then
    op.value, op.ttl, pos = ARGV[pos + 1], ARGV[pos + 2], pos + 3
  elseif op.code == 'C' then
    op.expected, op.value, op.ttl, pos = ARGV[pos + 1], ARGV[pos + 2], ARGV[pos + 3], pos + 4
  elseif op.code == 'D' then
    pos = pos + 1
  else
    local n = tonumber(ARGV[pos + 2])
    op.ttl, op.fields = ARGV[pos + 1], {}
    for j = 1, n do op.fields[j] = {ARGV[pos + 1 + 2 * j], ARGV[pos + 2 + 2 * j]} end
    pos = pos + 3 + 2 * n
  end
  ops[i] = op
end
for _, op in ipairs(ops) do
  if op.code == 'A' then
    if redis.call('EXISTS', op.key) == 1 then return 0 end
  elseif op.code == 'C' then
    local kind = redis.call('TYPE', op.key).ok
    if op.expected == '' then
      if kind ~= 'none' then return 0 end
    elseif kind ~= 'string' or redis.call('GET', op.key) ~= op.expected then
      return 0
    end
  end
end
local kinds, fresh, totals = {}, {}, {}
for i, op in ipairs(ops) do
  local k = op.key
  if kinds[k] == nil then kinds[k], fresh[k], totals[k] = redis.call('TYPE', k).ok, false, {} end
  if op.code == 'I' then
    if kinds[k] ~= 'none' and kinds[k] ~= 'hash' then return 'wrongtype:' .. i .. ':' end
    for _, f in ipairs(op.fields) do
      local current = totals[k][f[1]]
      if current == nil then
        current = 0
        if kinds[k] == 'hash' and not fresh[k] then current = tonumber(redis.call('HGET', k, f[1]) or '0') end
      end
      current = current + tonumber(f[2])
      if math.abs(current) >= 9.2e18 then return 'overflow:' .. i .. ':' .. f[1] end
      totals[k][f[1]] = current
    end
    if #op.fields > 0 then kinds[k] = 'hash' end
  else
    kinds[k], fresh[k], totals[k] = (op.code == 'D') and 'none' or 'string', true, {}
  end
end
for _, op in ipairs(ops) do
  if op.code == 'D' then
    redis.call('DEL', op.key)
  elseif op.code == 'I' then
    local created = redis.call('EXISTS', op.key) == 0
    for _, f in ipairs(op.fields) do redis.call('HINCRBY', op.key, f[1], f[2]) end
    if created and op.ttl ~= '' and #op.fields > 0 then redis.call('PEXPIRE', op.key, op.ttl) end
  elseif op.ttl == '' then
    redis.call('SET', op.key, op.value)
  else
    redis.call('SET', op.key, op.value, 'PX', op.ttl)
  end
end
return 1
"""

# KEYS: the once-keys, one per step, then the records the steps increment (each once).
# ARGV: remember ms, the number of steps, then per step: its number of increments, and per
# increment: the record's index among the records, ttl ms ('' = none), n, n field, amount pairs.
# 1) which steps are new: SET NX PX of each once-key (one command a step: a key repeated in the
# call is set by its first step, so later ones are not new); 2) the new steps' amounts summed per
# record and field (a batch of events on one aggregate costs one HINCRBY per field), the kinds
# and totals checked before any record is written (a failed check deletes the once-keys this call
# set, so nothing of it stays); 3) records incremented.
# Returns one 1/0 per step, or 'wrongtype:<record>:' / 'overflow:<record>:<field>'.
_INCREMENT_ONCE = """
local remember, n = ARGV[1], tonumber(ARGV[2])
local applied, sums, pos = {}, {}, 3
local function undo()
  for i = 1, n do
    if applied[i] == 1 then redis.call('DEL', KEYS[i]) end
  end
end
for i = 1, n do
  local fresh = redis.call('SET', KEYS[i], '1', 'PX', remember, 'NX') ~= false
  applied[i] = fresh and 1 or 0
  local m = tonumber(ARGV[pos])
  pos = pos + 1
  for _ = 1, m do
    local record, ttl, f = tonumber(ARGV[pos]), ARGV[pos + 1], tonumber(ARGV[pos + 2])
    if fresh then
      local sum = sums[record]
      if sum == nil then
        sum = {ttl = ttl, names = {}, amounts = {}}
        sums[record] = sum
      end
      for j = 1, f do
        local name, amount = ARGV[pos + 1 + 2 * j], tonumber(ARGV[pos + 2 + 2 * j])
        if sum.amounts[name] == nil then
          sum.names[#sum.names + 1] = name
          sum.amounts[name] = 0
        end
        sum.amounts[name] = sum.amounts[name] + amount
      end
    end
    pos = pos + 3 + 2 * f
  end
end
for record, sum in pairs(sums) do
  local key = KEYS[n + record]
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'none' and kind ~= 'hash' then
    undo()
    return 'wrongtype:' .. record .. ':'
  end
  sum.created = kind == 'none'
  for _, name in ipairs(sum.names) do
    local current = 0
    if not sum.created then current = tonumber(redis.call('HGET', key, name) or '0') end
    if math.abs(current + sum.amounts[name]) >= 9.2e18 then
      undo()
      return 'overflow:' .. record .. ':' .. name
    end
  end
end
for record, sum in pairs(sums) do
  local key = KEYS[n + record]
  for _, name in ipairs(sum.names) do
    redis.call('HINCRBY', key, name, string.format('%.0f', sum.amounts[name]))
  end
  if sum.created and sum.ttl ~= '' and #sum.names > 0 then redis.call('PEXPIRE', key, sum.ttl) end
end
return applied
"""

_get = RequestScript(_GET)
_set = RequestScript(_SET)
_set_if_absent = RequestScript(_SET_IF_ABSENT)
_delete = RequestScript(_DELETE)
_fields_of = RequestScript(_FIELDS)
_compare_and_set = RequestScript(_COMPARE_AND_SET)
_increment = RequestScript(_INCREMENT)
_atomic = RequestScript(_ATOMIC)
_increment_once = RequestScript(_INCREMENT_ONCE)


class RedisValues(Values):
    def __init__(
        self, redis: "Redis", scripts: "ScriptConnection | None", keys: KeySpace, plugin: str, tenant_id: str
    ) -> None:
        self._redis = redis
        self._scripts = scripts  # None: every call through redis-py (a Redis Cluster)
        self._root = keys.root(tenant_id, plugin, "v")
        self._once_root = keys.root(tenant_id, plugin, "o")  # increment_once's keys, apart from the values

    def _key(self, key: str) -> str:
        return self._root + checked_key(key)

    async def get(self, key: str) -> Value | None:
        reply = await _get(self._scripts, self._redis, [self._key(key)], ())
        if isinstance(reply, list):
            raise ValueError(f"the key {key!r:.80} holds integer fields (written by increment): read it with fields()")
        return None if reply is None else decode(reply)

    async def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        await _set(self._scripts, self._redis, [self._key(key)], (encode(value), _ms(ttl)))

    async def set_if_absent(self, key: str, value: Value, ttl: float | None = None) -> bool:
        return bool(await _set_if_absent(self._scripts, self._redis, [self._key(key)], (encode(value), _ms(ttl))))

    async def delete(self, key: str) -> bool:
        return bool(await _delete(self._scripts, self._redis, [self._key(key)], ()))

    async def compare_and_set(self, key: str, expected: Value | None, value: Value, ttl: float | None = None) -> bool:
        arguments = ("" if expected is None else encode(expected), encode(value), _ms(ttl))
        return bool(await _compare_and_set(self._scripts, self._redis, [self._key(key)], arguments))

    async def increment(self, key: str, fields: dict[str, int], ttl: float | None = None) -> dict[str, int]:
        check_fields(fields)
        arguments: list[Any] = [_ms(ttl)]
        for name, amount in fields.items():
            arguments += (name, amount)
        reply = await _increment(self._scripts, self._redis, [self._key(key)], arguments)
        if isinstance(reply, str):
            if reply == "wrongtype":
                raise wrong_kind_for_increment(key)
            raise field_overflow(key, reply.partition(":")[2])
        return _fields(reply)

    async def increment_once(self, steps: Sequence[OnceStep], *, remember: float) -> list[bool]:
        remember_ms = ttl_milliseconds(checked_once_steps(steps, remember))
        if not steps:
            return []
        records: dict[str, int] = {}  # record key -> its 1-based index among the records
        arguments: list[Any] = [remember_ms, len(steps)]
        for step in steps:
            arguments.append(len(step.increments))
            for increment in step.increments:
                index = records.setdefault(increment.key, len(records) + 1)
                arguments += (index, _ms(increment.ttl), len(increment.fields))
                for name, amount in increment.fields.items():
                    arguments += (name, amount)
        keys = [self._once_root + step.once_key for step in steps] + [self._root + key for key in records]
        reply = await _increment_once(self._scripts, self._redis, keys, arguments)
        if isinstance(reply, str):
            problem, position, name = reply.split(":", 2)
            key = list(records)[int(position) - 1]
            if problem == "wrongtype":
                raise wrong_kind_for_increment(key)
            raise field_overflow(key, name)
        return [bool(flag) for flag in reply]

    async def fields(self, key: str) -> dict[str, int]:
        reply = await _fields_of(self._scripts, self._redis, [self._key(key)], ())
        if isinstance(reply, str):
            raise ValueError(f"the key {key!r:.80} holds a value (written by set): read it with get()")
        return _fields(reply)

    async def keys(self, prefix: str = "", limit: int = 1000) -> list[str]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit is a positive int, not {limit!r:.40}")
        # SCAN returns keys in no order, so every match is read and sorted here; on a Cluster
        # redis-py's scan_iter walks every primary.
        pattern = _glob_escape(self._key(prefix)) + "*"
        start = len(self._root)
        found = [name[start:] async for name in self._redis.scan_iter(match=pattern, count=SCAN_COUNT)]
        found.sort()
        return found[:limit]

    async def delete_prefix(self, prefix: str) -> int:
        return await delete_matching(self._redis, _glob_escape(self._key(prefix)) + "*")

    async def atomic(self, operations: Sequence[Operation]) -> bool:
        if not operations:
            return True
        keys: list[str] = []
        arguments: list[Any] = []
        for operation in operations:
            arguments += _operation_arguments(operation)
            keys.append(self._key(operation.key))
        reply = await _atomic(self._scripts, self._redis, keys, arguments)
        if isinstance(reply, str):
            problem, index, name = reply.split(":", 2)
            key = operations[int(index) - 1].key
            if problem == "wrongtype":
                raise wrong_kind_for_increment(key)
            raise field_overflow(key, name)
        return bool(reply)


def _operation_arguments(operation: Operation) -> tuple[Any, ...]:
    """The script's arguments for one operation, checked and encoded (a bad one writes nothing)."""
    if isinstance(operation, Set):
        return ("S", encode(operation.value), _ms(operation.ttl))
    if isinstance(operation, SetIfAbsent):
        return ("A", encode(operation.value), _ms(operation.ttl))
    if isinstance(operation, CompareAndSet):
        expected = "" if operation.expected is None else encode(operation.expected)
        return ("C", expected, encode(operation.value), _ms(operation.ttl))
    if isinstance(operation, Delete):
        return ("D",)
    if isinstance(operation, Increment):
        check_fields(operation.fields)
        pairs: list[Any] = []
        for name, amount in operation.fields.items():
            pairs += (name, amount)
        return ("I", _ms(operation.ttl), len(operation.fields), *pairs)
    raise ValueError(f"atomic() takes Set, SetIfAbsent, CompareAndSet, Delete and Increment operations, not {type(operation).__name__}")


def _ms(ttl: float | None) -> int | str:
    milliseconds = ttl_milliseconds(ttl)
    return "" if milliseconds is None else milliseconds


def _fields(reply: list[str]) -> dict[str, int]:
    return {reply[i]: int(reply[i + 1]) for i in range(0, len(reply), 2)}


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern (tenant ids and prefixes may hold ``[*?``)."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?").replace("[", "\\[").replace("]", "\\]")
