-- Reserve ARGV[1] micro-units from a prepaid balance if it holds that much, atomically (check and
-- decrement in one step, so concurrent requests on any number of gateways never overdraw it).
-- KEYS[1] the balance (an integer of micro-units). Returns the new balance, or -1 when too low.
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if balance < amount then
  return -1
end
return redis.call('DECRBY', KEYS[1], amount)
