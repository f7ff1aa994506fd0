-- account_list.lua — every account, sorted by username, without password hashes.
-- KEYS: users
-- Returns an array of {name, {field, value, ...}}.
-- user:{name} keys are computed here from the set's members.
local names = redis.call('SMEMBERS', KEYS[1])
table.sort(names)
local out = {}
for _, name in ipairs(names) do
  local all = redis.call('HGETALL', 'user:{' .. name .. '}')
  if #all > 0 then
    local fields = {}
    for i = 1, #all, 2 do
      if all[i] ~= 'password' then
        fields[#fields + 1] = all[i]
        fields[#fields + 1] = all[i + 1]
      end
    end
    out[#out + 1] = {name, fields}
  end
end
return out
