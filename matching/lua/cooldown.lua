-- cooldown.lua — a peer's wellbeing cooldown (issue #5): no new match while the key exists
-- (snapshot reports it, claim refuses). Setting it again never shortens it: the TTL only
-- grows. A key without a TTL (never written by this store; set by hand) is left as it is.
-- KEYS[1] cooldown:{P}
-- ARGV: duration ms (> 0)
-- Returns the milliseconds left afterwards.
local left = redis.call('PTTL', KEYS[1])
if left ~= -1 and left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return redis.call('PTTL', KEYS[1])
