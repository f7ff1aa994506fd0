-- mod_unwatch.lua — off duty now, if `session` still holds this moderator's duty.
-- KEYS: mods:on, mods:sess, mods:key
-- ARGV: moderator, session
-- Returns 1 when it went off duty, 0 when another session holds it (or nobody).
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
