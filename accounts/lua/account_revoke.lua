-- account_revoke.lua — disable, delete or re-password an account, and kill every token of it:
-- the token hashes, the user's token set, the chained audit entry (audit_append.lua,
-- prepended) and the notice on the revocation channel happen together.
-- KEYS: user:{name}, user:{name}:tokens, users, audit, login_fail:{h(name)}
-- ARGV: name, now_ms, actor, audit_max_len, action (disable|delete|password),
--       password_hash (password only), channel
-- Returns 0 when there is no such account, else 1 + the number of tokens revoked.
-- token:{hash} keys are computed here: a user's token hashes are known only inside Redis.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local hashes = redis.call('SMEMBERS', KEYS[2])
local revoked = 0
for _, h in ipairs(hashes) do
  revoked = revoked + redis.call('DEL', 'token:{' .. h .. '}')
end
redis.call('DEL', KEYS[2])
local action, reason = ARGV[5], nil
if action == 'disable' then
  redis.call('HSET', KEYS[1], 'disabled', '1', 'updated_at', ARGV[2])
  reason = 'disabled'
elseif action == 'delete' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[1])
  reason = 'deleted'
elseif action == 'password' then
  redis.call('HSET', KEYS[1], 'password', ARGV[6], 'updated_at', ARGV[2])
  redis.call('DEL', KEYS[5])
  reason = 'password_changed'
else
  return redis.error_reply('ERR account_revoke: unknown action')
end
audit_append(KEYS[4], ARGV[4], ARGV[3], 'user.' .. action, ARGV[1], ARGV[2], '')
redis.call('PUBLISH', ARGV[7], cjson.encode({user = ARGV[1], reason = reason}))
return 1 + revoked
