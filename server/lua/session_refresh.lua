-- session_refresh.lua — keep a connected session alive: refresh its TTL only while this
-- connection still holds it (a released session must keep its grace deadline).
-- KEYS[1] sess:{S}
-- ARGV: instance, conn, ttl_s
-- Returns 1 when refreshed, 0 otherwise.
local h = redis.call('HMGET', KEYS[1], 'instance', 'conn')
if h[1] == ARGV[1] and h[2] == ARGV[2] then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
