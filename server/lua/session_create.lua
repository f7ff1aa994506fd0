-- session_create.lua — a new session hash, held by one connection, with its connected TTL.
-- KEYS[1] sess:{S}
-- ARGV: role, instance, conn, token_hash, created_at (Unix ms), ttl_s
-- Returns 1, or 0 when the id is taken (128 random bits: never in practice).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'role', ARGV[1], 'instance', ARGV[2], 'conn', ARGV[3],
           'token_hash', ARGV[4], 'created_at', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
