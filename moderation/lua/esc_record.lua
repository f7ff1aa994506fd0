-- esc_record.lua — reads one escalation in the shape moderation_store.cpp parses. Not a script
-- of its own: prepended to every script that returns records (like audit_append.lua).
-- A record is { HGETALL esc:<E>, HGETALL esc:<E>:x, next re-page ms or '' }; nil when gone.
-- The due score is formatted here: Redis may print large scores in exponent form.
local function esc_record(prefix, id)
  local key = prefix .. 'esc:' .. id
  local fields = redis.call('HGETALL', key)
  if #fields == 0 then
    return nil
  end
  local due = redis.call('ZSCORE', prefix .. 'esc:due', id)
  if due then
    due = string.format('%.0f', tonumber(due))
  else
    due = ''
  end
  return {fields, redis.call('HGETALL', key .. ':x'), due}
end

-- Adds id to an index set whose TTL only grows (index sets outlive no escalation for long).
local function esc_index(key, id, ttl)
  redis.call('SADD', key, id)
  if redis.call('PTTL', key) < tonumber(ttl) then
    redis.call('PEXPIRE', key, ttl)
  end
end
