-- token_issue.lua — store a new token's hash for an account whose password just verified.
-- Refused (nil) when the account was disabled, deleted or re-passworded since the check
-- read its hash, so a token can never outlive a change that should have revoked it.
-- KEYS: user:{name}, user:{name}:tokens, token:{hash}, login_fail:{h(name)}
-- ARGV: name, token_hash, issued_at, expires_at, lifetime_ms, password_hash_checked
-- Returns {role, alias} or nil.
local u = redis.call('HMGET', KEYS[1], 'role', 'disabled', 'alias', 'password')
if not u[1] or u[2] == '1' or u[4] ~= ARGV[6] then
  return false
end
-- Forget hashes of tokens that expired, so the set stays as small as the live tokens.
for _, h in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', 'token:{' .. h .. '}') == 0 then
    redis.call('SREM', KEYS[2], h)
  end
end
redis.call('HSET', KEYS[3], 'user', ARGV[1], 'role', u[1], 'issued_at', ARGV[3],
           'expires_at', ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[2], ARGV[2])
-- The set lives as long as its longest-lived token.
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
redis.call('DEL', KEYS[4])
return {u[1], u[3] or ''}
