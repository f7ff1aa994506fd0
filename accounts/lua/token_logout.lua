-- token_logout.lua — kill one token and tell every instance.
-- KEYS: token:{hash}
-- ARGV: token_hash, channel
-- Returns 1, or 0 when the token was not live.
local user = redis.call('HGET', KEYS[1], 'user')
if not user then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SREM', 'user:{' .. user .. '}:tokens', ARGV[1])
redis.call('PUBLISH', ARGV[2], cjson.encode({token_hash = ARGV[1], reason = 'logout'}))
return 1
