-- Replace what a request was charged by what it really cost (0 refunds it), keeping its time.
--
-- KEYS: as in acquire.lua, two per counter (entries, total).
-- ARGV: [1] member, [2] actual cost, then per counter i: ARGV[2+i] what it was charged there.
-- An entry that has left its window already is left alone: it no longer counts either way.

local member = ARGV[1]
local actual = tonumber(ARGV[2])
for i = 1, #KEYS / 2 do
  local log, total = KEYS[2 * i - 1], KEYS[2 * i]
  local charged = tonumber(ARGV[2 + i])
  local old = member .. '|' .. charged
  local score = redis.call('ZSCORE', log, old)
  if score and actual ~= charged then
    -- Add before removing, so the set never empties and loses its TTL in between.
    if actual > 0 then
      redis.call('ZADD', log, score, member .. '|' .. actual)
    end
    redis.call('ZREM', log, old)
    if redis.call('EXISTS', log) == 0 then
      redis.call('DEL', total)
    else
      redis.call('INCRBY', total, actual - charged)
    end
  end
end
return 1
