-- session_resume.lua — check a resume token's hash and move the session to a new holder in
-- one step, so two racing resumes cannot both believe they hold it.
-- KEYS[1] sess:{S}
-- ARGV: token_hash, instance, conn, ttl_s
-- Returns nil when the session is gone or the hash differs; else
-- {role, old_instance, old_conn, auth_hash} (auth_hash: the staff login token's hash, '' for
-- seekers; the caller re-checks it and releases the session when the token is dead).
local h = redis.call('HMGET', KEYS[1], 'token_hash', 'role', 'instance', 'conn', 'auth_hash')
if not h[1] or h[1] ~= ARGV[1] then
  return false
end
redis.call('HSET', KEYS[1], 'instance', ARGV[2], 'conn', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {h[2] or '', h[3] or '', h[4] or '', h[5] or ''}
