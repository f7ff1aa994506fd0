-- token_lookup.lua — the account behind a live token, in one round trip.
-- KEYS: token:{hash}
-- ARGV: now_ms
-- Returns {name, expires_at, {field, value, ...}} (no password hash), or nil when the token
-- is unknown or past its expiry (its TTL may lag by a few ms) or its account is gone.
-- The caller refuses disabled accounts.
local t = redis.call('HMGET', KEYS[1], 'user', 'expires_at')
if not t[1] or not tonumber(t[2]) or tonumber(t[2]) <= tonumber(ARGV[1]) then
  return false
end
local all = redis.call('HGETALL', 'user:{' .. t[1] .. '}')
if #all == 0 then
  return false
end
local fields = {}
for i = 1, #all, 2 do
  if all[i] ~= 'password' then
    fields[#fields + 1] = all[i]
    fields[#fields + 1] = all[i + 1]
  end
end
return {t[1], t[2], fields}
