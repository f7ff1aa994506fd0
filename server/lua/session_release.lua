-- session_release.lua — a connection ended: if it still holds the session, detach it and let
-- the session live for the grace period only. A session taken over meanwhile is left alone.
-- KEYS[1] sess:{S}
-- ARGV: instance, conn, grace_s
-- Returns 1 when released, 0 when another connection holds it or it is gone.
local h = redis.call('HMGET', KEYS[1], 'instance', 'conn')
if h[1] == ARGV[1] and h[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'conn', '')
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
