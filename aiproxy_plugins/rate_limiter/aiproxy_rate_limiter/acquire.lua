-- Admit one request in every counter or in none: the sliding-window log of aiproxy's rate limiter.
--
-- KEYS: two per counter i: KEYS[2i-1] a sorted set of entries ("<member>|<cost>", score = ms),
--       KEYS[2i] the running total of their costs (a string, so INCRBY keeps the key's TTL).
-- ARGV: [1] member, [2] cost, then per counter i: ARGV[1+2i] limit, ARGV[2+2i] window in ms.
-- Returns {allowed (1|0), retry_ms, then per counter: used, reset_ms, charged}.
--
-- The time is Redis's own (TIME), never a gateway's, so processes whose clocks differ still
-- agree on which entries are inside a window.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member = ARGV[1]
local cost = tonumber(ARGV[2])
local n = #KEYS / 2

local function cost_of(entry)
  return tonumber(string.match(entry, '|(%d+)$'))
end

-- Drop the entries that have left the window (counted at or before now - window) and
-- return the total of those that remain.
local function trim(log, total, window)
  local cutoff = now - window
  local gone = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #gone == 0 then
    return tonumber(redis.call('GET', total) or '0')
  end
  local freed = 0
  for _, entry in ipairs(gone) do
    freed = freed + cost_of(entry)
  end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
  if redis.call('EXISTS', log) == 0 then
    redis.call('DEL', total)
    return 0
  end
  return redis.call('DECRBY', total, freed)
end

-- The time until enough of the oldest entries have left for `need` more to fit.
local function wait_for_room(log, window, used, limit, need)
  local excess = used + need - limit
  local freed = 0
  local start = 0
  while true do
    local page = redis.call('ZRANGE', log, start, start + 127, 'WITHSCORES')
    if #page == 0 then
      return window
    end
    for j = 1, #page, 2 do
      freed = freed + cost_of(page[j])
      if freed >= excess then
        return tonumber(page[j + 1]) + window - now
      end
    end
    start = start + 128
  end
end

local limits, windows, used, charge = {}, {}, {}, {}
local allowed = 1
for i = 1, n do
  limits[i] = tonumber(ARGV[1 + 2 * i])
  windows[i] = tonumber(ARGV[2 + 2 * i])
  used[i] = trim(KEYS[2 * i - 1], KEYS[2 * i], windows[i])
  charge[i] = math.min(cost, limits[i])
  if used[i] + charge[i] > limits[i] then
    allowed = 0
  end
end

local result = {allowed, 0}
local retry = 0
for i = 1, n do
  local log, total = KEYS[2 * i - 1], KEYS[2 * i]
  local charged = 0
  if allowed == 1 then
    redis.call('ZADD', log, now, member .. '|' .. charge[i])
    used[i] = redis.call('INCRBY', total, charge[i])
    -- The newest entry leaves last: both keys can go when it does.
    redis.call('PEXPIRE', log, windows[i])
    redis.call('PEXPIRE', total, windows[i])
    charged = charge[i]
  elseif used[i] + charge[i] > limits[i] then
    retry = math.max(retry, wait_for_room(log, windows[i], used[i], limits[i], charge[i]))
  end
  local reset = 0
  local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  if oldest[2] then
    reset = tonumber(oldest[2]) + windows[i] - now
  end
  table.insert(result, used[i])
  table.insert(result, reset)
  table.insert(result, charged)
end
result[2] = retry
return result
