-- account_create.lua — a new account, its place in `users`, and its chained audit entry
-- (audit_append.lua, prepended), together.
-- KEYS: user:{name}, users, audit
-- ARGV: name, role, alias, languages, password_hash, now_ms, actor, audit_max_len, detail
-- Returns 1, or 0 when the username is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'role', ARGV[2], 'alias', ARGV[3], 'languages', ARGV[4],
           'password', ARGV[5], 'disabled', '0', 'created_at', ARGV[6], 'updated_at', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
audit_append(KEYS[3], ARGV[8], ARGV[7], 'user.create', ARGV[1], ARGV[6], ARGV[9])
return 1
