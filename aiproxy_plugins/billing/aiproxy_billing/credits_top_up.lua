-- Add ARGV[1] micro-units to a prepaid balance unless it would pass ARGV[2] (kept below 2^53 so the
-- scripts' Lua numbers stay exact). KEYS[1] the balance. Returns the new balance, or -1 when too high.
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
if balance + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return -1
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
