-- Write a batch of billing events to the ledger, and count each in its day's aggregates, exactly once.
-- KEYS[1] the export targets hash (field: tenant id), KEYS[2] the export queue (sorted set, score: due time);
-- then per event i (from 0): KEYS[3 + 2i] the tenant's ledger hash (field: request id),
-- KEYS[4 + 2i] the consumer's aggregates of that day.
-- ARGV[1] now (unix seconds); then ARGV[2 + i] event i's JSON (the script reads its fields itself:
-- one argument per event instead of eight, since the client's per-argument work was the cost).
-- HSETNX decides: an event already in the ledger (a replay after a crash) changes nothing.
-- Increments are summed per hash and field first, so a batch of one consumer's day costs a handful
-- of HINCRBYs rather than eight per event. Returns how many events were new.
local now = ARGV[1]
local written = 0
local sums, plans, order = {}, {}, {}
local exporting = {}
local function add(key, field, amount)
  local fields = sums[key]
  if fields == nil then
    fields = {}
    sums[key] = fields
    order[#order + 1] = key
  end
  fields[field] = (fields[field] or 0) + amount
end
local events = (#KEYS - 2) / 2
for i = 0, events - 1 do
  local doc = ARGV[2 + i]
  local event = cjson.decode(doc)
  if redis.call('HSETNX', KEYS[3 + 2 * i], event.request_id, doc) == 1 then
    written = written + 1
    local daily, endpoint, model = KEYS[4 + 2 * i], event.endpoint, event.model
    local input, output = tonumber(event.input_tokens), tonumber(event.output_tokens)
    add(daily, 'requests', 1)
    add(daily, 'input_tokens', input)
    add(daily, 'output_tokens', output)
    add(daily, 'ep:' .. endpoint, 1)
    add(daily, 'epin:' .. endpoint, input)
    add(daily, 'epout:' .. endpoint, output)
    add(daily, 'mdin:' .. model, input)
    add(daily, 'mdout:' .. model, output)
    if type(event.plan_id) == 'string' and event.plan_id ~= '' then  -- null decodes to cjson.null
      plans[daily] = event.plan_id
    end
    -- A tenant that exports gets the event queued for its webhook in the same atomic step.
    local tenant = event.tenant_id
    if exporting[tenant] == nil then
      exporting[tenant] = redis.call('HEXISTS', KEYS[1], tenant) == 1
    end
    if exporting[tenant] then
      redis.call('ZADD', KEYS[2], 'NX', now, doc)
    end
  end
end
for _, key in ipairs(order) do
  for field, amount in pairs(sums[key]) do
    redis.call('HINCRBY', key, field, amount)
  end
  if plans[key] ~= nil then
    redis.call('HSET', key, 'plan', plans[key])
  end
end
return written
