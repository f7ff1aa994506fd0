-- session_create.lua — a new session hash, held by one connection, with its connected TTL.
-- KEYS[1] sess:{S}
-- ARGV: role, instance, conn, token_hash, created_at (Unix ms), ttl_s
--       [, user, auth_hash, auth_expires_at]  staff sessions: the account, the hash of the
--       login token that opened it (a resume re-checks it) and that token's expiry (Unix ms)
-- Returns 1, or 0 when the id is taken (128 random bits: never in practice).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'role', ARGV[1], 'instance', ARGV[2], 'conn', ARGV[3],
           'token_hash', ARGV[4], 'created_at', ARGV[5])
if ARGV[8] and ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'user', ARGV[7], 'auth_hash', ARGV[8], 'auth_expires_at', ARGV[9])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
