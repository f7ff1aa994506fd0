-- identity_register.lua — a peer registers its Ed25519 identity key (contract §5).
-- KEYS: user:{name}, audit (chained through audit_append.lua, prepended)
-- ARGV: name, identity_key (base64), now_ms, audit_max_len
-- Returns 0 no such account, 1 stored, 2 the same key was already registered,
-- 3 conflict (another key is registered; an admin must reset it first).
local cur = redis.call('HMGET', KEYS[1], 'role', 'identity_key')
if not cur[1] then
  return 0
end
if cur[2] then
  if cur[2] == ARGV[2] then
    return 2
  end
  return 3
end
redis.call('HSET', KEYS[1], 'identity_key', ARGV[2], 'updated_at', ARGV[3])
audit_append(KEYS[2], ARGV[4], ARGV[1], 'user.register_identity', ARGV[1], ARGV[3], '')
return 1
