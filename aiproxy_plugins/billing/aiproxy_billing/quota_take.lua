-- Admit one request if the period's count is below the quota, atomically (no overshoot under concurrency).
-- KEYS[1] the counter; ARGV[1] the quota, ARGV[2] seconds to keep the counter (past the period's end).
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  return -1
end
used = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return used
