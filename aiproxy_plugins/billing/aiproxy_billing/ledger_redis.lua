-- Write one billing event to the ledger, and count it in its day's aggregates, exactly once.
-- KEYS[1] the tenant's ledger hash (field: request id), KEYS[2] the consumer's aggregates of that day.
-- KEYS[3] the export targets hash (field: tenant id), KEYS[4] the export queue (sorted set, score: due time).
-- ARGV: request id, event JSON, endpoint, model, input tokens, output tokens, plan id ('' if none),
-- tenant id, now (unix seconds).
-- HSETNX decides: an event already in the ledger (a replay after a crash) changes nothing.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
local input, output = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('HINCRBY', KEYS[2], 'requests', 1)
redis.call('HINCRBY', KEYS[2], 'input_tokens', input)
redis.call('HINCRBY', KEYS[2], 'output_tokens', output)
redis.call('HINCRBY', KEYS[2], 'ep:' .. ARGV[3], 1)
redis.call('HINCRBY', KEYS[2], 'epin:' .. ARGV[3], input)
redis.call('HINCRBY', KEYS[2], 'epout:' .. ARGV[3], output)
redis.call('HINCRBY', KEYS[2], 'mdin:' .. ARGV[4], input)
redis.call('HINCRBY', KEYS[2], 'mdout:' .. ARGV[4], output)
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[2], 'plan', ARGV[7])
end
-- A tenant that exports gets the event queued for its webhook in the same atomic step.
if redis.call('HEXISTS', KEYS[3], ARGV[8]) == 1 then
  redis.call('ZADD', KEYS[4], 'NX', ARGV[9], ARGV[2])
end
return 1
