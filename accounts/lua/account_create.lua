-- account_create.lua — a new account, its place in `users`, and its audit entry, together.
-- KEYS: user:{name}, users, audit
-- ARGV: name, role, alias, languages, password_hash, now_ms, actor, audit_max_len, detail
-- Returns 1, or 0 when the username is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'role', ARGV[2], 'alias', ARGV[3], 'languages', ARGV[4],
           'password', ARGV[5], 'disabled', '0', 'created_at', ARGV[6], 'updated_at', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'actor', ARGV[7],
           'action', 'user.create', 'target', ARGV[1], 'at', ARGV[6], 'detail', ARGV[9])
return 1
