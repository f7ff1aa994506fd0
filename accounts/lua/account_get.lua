-- account_get.lua — an account's fields, without the password hash (it never leaves Redis
-- except to be verified at login).
-- KEYS: user:{name}
-- Returns a flat field/value array; empty when there is no such account.
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  if all[i] ~= 'password' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
