-- mod_watch.lua — a moderator goes on duty from one session: presence until `expiry`, the
-- session that holds it, its X25519 key. Also drops moderators whose presence has lapsed.
-- KEYS: mods:on, mods:sess, mods:key
-- ARGV: moderator, session, pubkey (base64), expiry_ms, now_ms
-- Returns 1.
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])) do
  if m ~= ARGV[1] then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], m)
    redis.call('HDEL', KEYS[3], m)
  end
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1
