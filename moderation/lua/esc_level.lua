-- esc_level.lua — the levels of the escalations still stored for conversation C.
-- KEYS: esc:conv:<C>   ARGV: prefix
-- Returns the level strings (empty when C has none).
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local level = redis.call('HGET', ARGV[1] .. 'esc:' .. id, 'level')
  if level then
    out[#out + 1] = level
  end
end
return out
