-- account_update.lua — set and delete fields of an existing account, with its chained audit
-- entry (audit_append.lua, prepended).
-- KEYS: user:{name}, audit
-- ARGV: name, now_ms, actor, audit_max_len, action, detail, then triples (op, field, value):
--       op 'S' sets field to value, 'D' deletes field (value ignored).
-- Returns 0 when there is no such account, else 1 + the number of fields that changed.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local changed = 0
for i = 7, #ARGV, 3 do
  local op, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'S' then
    if redis.call('HGET', KEYS[1], field) ~= value then
      redis.call('HSET', KEYS[1], field, value)
      changed = changed + 1
    end
  elseif op == 'D' then
    changed = changed + redis.call('HDEL', KEYS[1], field)
  end
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
audit_append(KEYS[2], ARGV[4], ARGV[3], ARGV[5], ARGV[1], ARGV[2], ARGV[6])
return 1 + changed
