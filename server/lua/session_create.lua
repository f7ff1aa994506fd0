-- session_create.lua — a new session hash, held by one connection, with its connected TTL,
-- unless one of the ban keys exists (checked in the same step, so a ban set before the hello
-- is never missed).
-- KEYS[1] sess:{S}
-- KEYS[2..] ban keys to check first: <mod>ban:d:<device_id> for a seeker with a device,
--           <mod>ban:p:<username> for staff (moderation's keys, same Redis)
-- ARGV: role, instance, conn, token_hash, created_at (Unix ms), ttl_s,
--       user, auth_hash, auth_expires_at  staff sessions: the account, the hash of the login
--       token that opened it (a resume re-checks it) and that token's expiry (Unix ms); '' else
--       device  the seeker's device id (a hash of its device secret), '' when none
-- Returns 1, 0 when the id is taken (128 random bits: never in practice), -1 when banned
-- (nothing written).
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return -1
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'role', ARGV[1], 'instance', ARGV[2], 'conn', ARGV[3],
           'token_hash', ARGV[4], 'created_at', ARGV[5])
if ARGV[8] and ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'user', ARGV[7], 'auth_hash', ARGV[8], 'auth_expires_at', ARGV[9])
end
if ARGV[10] and ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'device', ARGV[10])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
