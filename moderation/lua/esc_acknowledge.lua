-- esc_acknowledge.lua — open → acknowledged by one moderator; it leaves esc:due (an
-- acknowledged escalation is not re-paged). Redis runs one script at a time, so of two
-- moderators racing exactly one gets 'ok'. esc_record.lua and audit_append.lua prepended.
-- KEYS: esc:<E>, audit
-- ARGV: prefix, id, moderator, now_ms, audit_max_len
-- Returns {status, record}: ok | unchanged (already acknowledged by this moderator) |
-- conflict (by another, or resolved) | not_found (record = {}).
local prefix, id, moderator = ARGV[1], ARGV[2], ARGV[3]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'not_found', {}}
end
if state == 'acknowledged' then
  local by = redis.call('HGET', KEYS[1], 'acknowledged_by')
  return {by == moderator and 'unchanged' or 'conflict', esc_record(prefix, id)}
end
if state ~= 'open' then
  return {'conflict', esc_record(prefix, id)}
end
redis.call('HSET', KEYS[1], 'state', 'acknowledged', 'acknowledged_by', moderator,
           'acknowledged_at', ARGV[4])
redis.call('ZREM', prefix .. 'esc:due', id)
audit_append(KEYS[2], ARGV[5], moderator, 'escalation.acknowledge', id, ARGV[4], '')
return {'ok', esc_record(prefix, id)}
