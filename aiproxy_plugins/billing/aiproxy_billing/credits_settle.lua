-- Settle a request: give back the reservation ARGV[1] and charge the real price ARGV[2] (micro-units).
-- The balance stops at zero: what it could not pay is returned as the shortfall.
-- KEYS[1] the balance. Returns {new balance, shortfall}.
local balance = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
local price = tonumber(ARGV[2])
local shortfall = 0
if price > balance then
  shortfall = price - balance
  price = balance
end
local delta = tonumber(ARGV[1]) - price
if delta ~= 0 then
  redis.call('INCRBY', KEYS[1], string.format('%d', delta))
end
return {balance - price, shortfall}
