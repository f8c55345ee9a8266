"""The Redis queue: a Stream read through consumer groups.

Layout (both keys in one hash slot, ``{<plugin>:<name>}``, so every script runs on a Cluster):

* the stream ``KeySpace.queue(plugin, name)``: one entry per append batch, fields ``0``, ``1``,
  ... holding the encoded items (``j<json>`` or ``b<base64>``, see :mod:`.value_codec`). All the
  items appended in one event-loop turn make one XADD (at most :data:`MAX_ITEMS_PER_ENTRY` per
  entry), because under load the per-command work, not Redis, is the cost. The XADD is a plain
  command on the process's :class:`ScriptConnection` when it has one (sharing a write with every
  other plugin's calls of that turn), else a script on the redis-py client (a Redis Cluster).
* ``<stream>:acks``: a hash with one field ``<group> <entry id>`` per entry a group has
  acknowledged in part, its value a mask (``1`` per acknowledged item). An item's id is
  ``<entry id>:<index>``; acknowledging items is tracked per item, and when every item of an
  entry is acknowledged the entry is XACKed for that group. A worker that acknowledged half of an
  entry and died gets only the other half redelivered to its successor.

Once no group still has an entry unread (above its last-delivered-id) or pending, it is XDELed,
so the stream holds only what is still on its way (XDEL, not XTRIM: groups acknowledge out of
order). A consumer group is created on its first claim with id 0 (it gets everything still
queued), and created again if the stream was flushed. Claim, ack and backlog are Lua scripts
using Redis's own clock (XPENDING IDLE), one round trip each.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Sequence

from ..redis_scripts import RequestScript
from .api import Queue, QueueEntry, Value, new_queue_entry
from .keyspace import KeySpace
from .queue_checks import check_claim, checked_name
from .turn_batch import TurnBatch, refused
from .value_codec import decode, encode

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..redis_scripts import ScriptConnection

__all__ = ["MAX_ITEMS_PER_ENTRY", "RedisQueue"]

#: At most this many items in one stream entry (bounds an entry's size and how far a claim may
#: pass its ``count``: entries are claimed whole).
MAX_ITEMS_PER_ENTRY = 256

#: Entries the backlog script looks at per call (so a long stream never blocks Redis for long).
_BACKLOG_CHUNK = 1000

#: Entry sizes a process remembers between its claims and acks (bounded: a worker that claims
#: and never acknowledges must not grow it; a forgotten size is read again by the ack script).
_SIZES_REMEMBERED = 100_000

# Stream ids ``<ms>-<seq>`` compared as numbers (both fit a Lua double exactly in practice).
_COMPARE_IDS = """
local function id_after(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local function groups_of(stream)
  local ok, reply = pcall(redis.call, 'XINFO', 'GROUPS', stream)
  if not ok then return nil end
  local groups = {}
  for _, flat in ipairs(reply) do
    local info = {}
    for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
    groups[#groups + 1] = info
  end
  return groups
end
local function acked_in(mask)
  if not mask then return 0 end
  local _, n = string.gsub(mask, '1', '')
  return n
end
"""

# KEYS: stream, acks. ARGV: group, worker, count, min idle ms.
# Returns entries {id, attempts, mask ('' when nothing acknowledged), {field, value, ...}}.
_CLAIM = (
    _COMPARE_IDS
    + """
local stream, acks, group, worker = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local count, idle = tonumber(ARGV[3]), tonumber(ARGV[4])
local groups = groups_of(stream)
local last = nil
if groups == nil then
  redis.call('DEL', acks)  -- the stream is gone (flushed): its marks name nothing
else
  for _, info in ipairs(groups) do
    if info['name'] == group then last = info['last-delivered-id'] end
  end
end
if last == nil then
  redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
end
local out, items = {}, 0
local stale = redis.call('XPENDING', stream, group, 'IDLE', idle, '-', '+', count)
for _, p in ipairs(stale) do
  local id, deliveries = p[1], p[4]
  local entry = redis.call('XRANGE', stream, id, id)
  if #entry == 0 then
    redis.call('XACK', stream, group, id)  -- deleted while pending: nothing left to hand out
    redis.call('HDEL', acks, group .. ' ' .. id)
  else
    local mask = redis.call('HGET', acks, group .. ' ' .. id)
    local size = #entry[1][2] / 2 - acked_in(mask)
    if items > 0 and items + size > count then break end
    redis.call('XCLAIM', stream, group, worker, idle, id)
    out[#out + 1] = {id, deliveries + 1, mask or '', entry[1][2]}
    items = items + size
    if items >= count then break end
  end
end
-- New entries one at a time until count is reached: an entry is read once (an XRANGE to learn
-- sizes first read every entry twice, and entries past count too: most of this script's time).
while items < count do
  local reply = redis.call('XREADGROUP', 'GROUP', group, worker, 'COUNT', 1, 'STREAMS', stream, '>')
  if not reply then break end
  local entry = reply[1][2][1]
  out[#out + 1] = {entry[1], 1, '', entry[2]}
  items = items + #entry[2] / 2
end
return out
"""
)

# KEYS: stream, acks. ARGV: group, then per entry: its id, its acknowledged indexes ("0,3,4") and
# its size ('' when the caller does not know it: the script reads the entry).
# Returns how many entries left the stream.
_ACK = (
    _COMPARE_IDS
    + """
local stream, acks, group = KEYS[1], KEYS[2], ARGV[1]
local groups = nil
-- No group still has the entry unread or pending (``done``: the group that just acknowledged it).
local function held_by_none(id, done)
  groups = groups or groups_of(stream) or {}
  for _, info in ipairs(groups) do
    if info['name'] ~= done then
      if id_after(id, info['last-delivered-id']) then return false end
      if #redis.call('XPENDING', stream, info['name'], id, id, 1) > 0 then return false end
    end
  end
  return true
end
local removed = 0
for i = 2, #ARGV, 3 do
  local id, indexes, size = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if indexes == '*' then
    -- Every item of an entry this process claimed (a worker's usual case): XACK says whether
    -- the group held it; no per-item mask to read or keep.
    local ok, acked = pcall(redis.call, 'XACK', stream, group, id)
    if ok and acked == 1 then
      redis.call('HDEL', acks, group .. ' ' .. id)
      if held_by_none(id, group) then
        redis.call('XDEL', stream, id)
        removed = removed + 1
      end
    end
  else
  local ok, pending = pcall(redis.call, 'XPENDING', stream, group, id, id, 1)
  if ok and #pending > 0 then  -- else: not this group's to acknowledge (or the stream is gone)
    local exists = true
    if not size then  -- the acknowledging process did not claim it: read the entry's size
      local entry = redis.call('XRANGE', stream, id, id)
      exists = #entry > 0
      if exists then size = #entry[1][2] / 2 end
    end
    local complete = not exists
    if exists then
      local field = group .. ' ' .. id
      local bits, all = {}, 0
      for n in string.gmatch(indexes, '%d+') do
        local k = tonumber(n) + 1
        if k <= size and not bits[k] then
          bits[k] = '1'
          all = all + 1
        end
      end
      if all == size then
        -- Every item of the entry in this call (a worker's usual case): no mask to read or keep.
        complete = true
        redis.call('HDEL', acks, field)
      else
        local mask = redis.call('HGET', acks, field) or string.rep('0', size)
        local merged = {}
        for k = 1, size do merged[k] = bits[k] or string.sub(mask, k, k) end
        mask = table.concat(merged)
        if string.find(mask, '0', 1, true) then
          redis.call('HSET', acks, field, mask)
        else
          complete = true
          redis.call('HDEL', acks, field)
        end
      end
    end
    if complete then
      redis.call('XACK', stream, group, id)
      if exists and held_by_none(id, group) then
        redis.call('XDEL', stream, id)
        removed = removed + 1
      end
    end
  end
  end
end
return removed
"""
)

# KEYS: stream, acks. ARGV: group, cursor (exclusive), chunk. Returns {items, next cursor or ''}.
_BACKLOG = (
    _COMPARE_IDS
    + """
local stream, acks, group = KEYS[1], KEYS[2], ARGV[1]
local groups = groups_of(stream)
if groups == nil then return {0, ''} end
local last = nil  -- nil: the group does not exist yet, and would get every entry queued
for _, info in ipairs(groups) do
  if info['name'] == group then last = info['last-delivered-id'] end
end
local entries = redis.call('XRANGE', stream, '(' .. ARGV[2], '+', 'COUNT', tonumber(ARGV[3]))
local total = 0
for _, entry in ipairs(entries) do
  local id, size = entry[1], #entry[2] / 2
  if last == nil or id_after(id, last) then
    total = total + size
  elseif #redis.call('XPENDING', stream, group, id, id, 1) > 0 then
    total = total + size - acked_in(redis.call('HGET', acks, group .. ' ' .. id))
  end
end
local next = ''
if #entries == tonumber(ARGV[3]) then next = entries[#entries][1] end
return {total, next}
"""
)


# KEYS: the stream. ARGV: field, item pairs of one entry. Returns the entry's id.
_APPEND = RequestScript("return redis.call('XADD', KEYS[1], '*', unpack(ARGV))")


class RedisQueue(Queue):
    def __init__(self, redis: "Redis", scripts: "ScriptConnection | None", keys: KeySpace, plugin: str, name: str) -> None:
        self._redis = redis
        self._scripts = scripts  # None: appends through redis-py (a Redis Cluster)
        self._name = checked_name("queue", name)
        self.stream = keys.queue(plugin, name)
        self._keys = [self.stream, self.stream + ":acks"]
        self._claim = redis.register_script(_CLAIM)
        self._ack = redis.register_script(_ACK)
        self._backlog = redis.register_script(_BACKLOG)
        self._batch: TurnBatch[str] = TurnBatch(self._write)
        #: Each entry this process claimed: how many items it holds, until acknowledged.
        self._sizes: dict[str, int] = {}

    def append(self, item: Value) -> "asyncio.Future[None]":
        # Encoded here, so a bad item fails its own append, not the turn's whole batch. The
        # batch's future itself is returned: no coroutine per append (see Queue.append).
        try:
            encoded = encode(item)
        except ValueError as exc:
            return refused(exc)
        return self._batch.add(encoded)

    async def _write(self, items: list[str]) -> None:
        # One script call per entry, sent together (on the script connection: in this turn's one
        # write); not one transaction (an entry that failed fails every append of the batch,
        # though the others' entries may be written: a retried append may then appear twice).
        chunks = [items[start : start + MAX_ITEMS_PER_ENTRY] for start in range(0, len(items), MAX_ITEMS_PER_ENTRY)]
        if self._scripts is not None:
            # A plain XADD: a script would copy every item into Lua and out again (~3/4 of the
            # append's time in Redis, measured with SLOWLOG).
            await asyncio.gather(*(self._scripts.command(b"XADD", self.stream, b"*", *_flat(chunk)) for chunk in chunks))
            return
        await asyncio.gather(*(_APPEND(None, self._redis, [self.stream], _flat(chunk)) for chunk in chunks))

    async def claim(self, group: str, worker: str, *, count: int = 100, reclaim_after: float = 30.0) -> list[QueueEntry]:
        checked_name("group", group)
        checked_name("worker", worker)
        check_claim(count, reclaim_after)
        reply = await self._claim(keys=self._keys, args=[group, worker, count, round(reclaim_after * 1000)])
        claimed: list[QueueEntry] = []
        if len(self._sizes) > _SIZES_REMEMBERED:
            self._sizes.clear()  # claimed and never acknowledged here: the ack reads the size itself
        for entry_id, attempts, mask, flat in reply:
            self._sizes[entry_id] = len(flat) // 2
            # Stream ids never repeat within a stream (they grow even after XDEL); the queue's
            # name keeps two queues of one plugin apart.
            batch = f"{self._name}/{entry_id}"
            for index in range(len(flat) // 2):
                if mask[index : index + 1] != "1":  # acknowledged already by the worker before
                    claimed.append(new_queue_entry(f"{entry_id}:{flat[2 * index]}", decode(flat[2 * index + 1]), int(attempts), batch))
        return claimed

    async def ack(self, group: str, ids: Sequence[str]) -> None:
        checked_name("group", group)
        by_entry: dict[str, list[str]] = {}
        for item_id in ids:
            entry_id, index = _split(item_id)
            by_entry.setdefault(entry_id, []).append(index)
        if not by_entry:
            return
        args: list[Any] = [group]
        for entry_id, indexes in by_entry.items():
            # The entry's size as this process claimed it spares the script reading the entry;
            # "*" says every item of it (indexes are unique: they come from the split ids).
            size = self._sizes.pop(entry_id, "")
            whole = size != "" and len(set(indexes)) == size and all(int(i) < size for i in indexes)
            args += [entry_id, "*" if whole else ",".join(indexes), size]
        await self._ack(keys=self._keys, args=args)

    async def backlog(self, group: str) -> int:
        checked_name("group", group)
        total, cursor = 0, "0-0"
        while True:
            items, cursor = await self._backlog(keys=self._keys, args=[group, cursor, _BACKLOG_CHUNK])
            total += int(items)
            if not cursor:
                return total


def _flat(items: list[str]) -> list[str]:
    """``0, item0, 1, item1, ...``: the XADD's field, value pairs."""
    flat: list[str] = []
    for index, item in enumerate(items):
        flat += (str(index), item)
    return flat


def _split(item_id: str) -> tuple[str, str]:
    """``<entry id>:<index>`` into its parts, or a ValueError for anything this queue did not hand out."""
    entry_id, _, index = item_id.rpartition(":") if isinstance(item_id, str) else ("", "", "")
    ms, _, seq = entry_id.partition("-")
    if not (index.isascii() and index.isdigit() and ms.isascii() and ms.isdigit() and seq.isascii() and seq.isdigit()):
        raise ValueError(f"not an id this queue handed out (QueueEntry.id): {item_id!r:.80}")
    return entry_id, index
