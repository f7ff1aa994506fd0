-- add_prekeys.lua — append a peer's signed one-time prekeys (opaque to this store), keeping
-- at most the newest `max`. Claims pop the oldest first.
-- KEYS[1] prekeys:{P}
-- ARGV: max, then the prekeys
-- Returns the number of prekeys held.
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return redis.call('LLEN', KEYS[1])
