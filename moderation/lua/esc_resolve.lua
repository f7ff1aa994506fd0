-- esc_resolve.lua — open or acknowledged → resolved: leaves esc:open and esc:due, and the
-- record and its excerpts expire after resolved_ttl. Exactly one of racing resolves wins.
-- esc_record.lua and audit_append.lua prepended.
-- KEYS: esc:<E>, esc:<E>:x, audit
-- ARGV: prefix, id, moderator, outcome, now_ms, audit_max_len, resolved_ttl_ms
-- Returns {status, record}: ok | conflict (already resolved) | not_found (record = {}).
local prefix, id, moderator = ARGV[1], ARGV[2], ARGV[3]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'not_found', {}}
end
if state == 'resolved' then
  return {'conflict', esc_record(prefix, id)}
end
redis.call('HSET', KEYS[1], 'state', 'resolved', 'resolved_by', moderator, 'resolved_at', ARGV[5],
           'outcome', ARGV[4])
redis.call('ZREM', prefix .. 'esc:open', id)
redis.call('ZREM', prefix .. 'esc:due', id)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
audit_append(KEYS[3], ARGV[6], moderator, 'escalation.resolve', id, ARGV[5], ARGV[4])
return {'ok', esc_record(prefix, id)}
