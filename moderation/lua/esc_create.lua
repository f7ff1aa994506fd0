-- esc_create.lua — stores a new open escalation, its excerpts, its place in esc:open (and in
-- esc:due when its level has a deadline), its index (esc:conv:<C>, or esc:sess:<S> when raised
-- without a conversation) and its audit entries, together. esc_record.lua and
-- audit_append.lua are prepended.
-- KEYS: esc:<E>, audit
-- ARGV: prefix, id, conv, level, category, source, created_at, note, reason, session, peer,
--       next_due (0 = none), actor, audit_max_len, index_ttl_ms,
--       then moderator_id, sealed (base64) pairs
-- Returns the record, or an error when the id is taken (an id generator bug).
local prefix, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR esc_create: id taken')
end
local conv, session = ARGV[3], ARGV[10]
redis.call('HSET', KEYS[1], 'id', id, 'conv', conv, 'level', ARGV[4], 'category', ARGV[5],
           'source', ARGV[6], 'state', 'open', 'created_at', ARGV[7], 'acknowledged_by', '',
           'acknowledged_at', '0', 'resolved_by', '', 'resolved_at', '0', 'outcome', '',
           'repaged', '0', 'note', ARGV[8], 'reason', ARGV[9], 'session', session,
           'peer', ARGV[11])
for i = 16, #ARGV - 1, 2 do
  redis.call('HSET', KEYS[1] .. ':x', ARGV[i], ARGV[i + 1])
end
redis.call('ZADD', prefix .. 'esc:open', ARGV[7], id)
if tonumber(ARGV[12]) > 0 then
  redis.call('ZADD', prefix .. 'esc:due', ARGV[12], id)
end
if conv ~= '' then
  esc_index(prefix .. 'esc:conv:' .. conv, id, ARGV[15])
elseif session ~= '' then
  esc_index(prefix .. 'esc:sess:' .. session, id, ARGV[15])
end
audit_append(KEYS[2], ARGV[14], ARGV[13], 'escalation.create', id, ARGV[7],
             'level=' .. ARGV[4] .. ' category=' .. ARGV[5] .. ' source=' .. ARGV[6])
if ARGV[6] == 'report' then
  audit_append(KEYS[2], ARGV[14], ARGV[13], 'report', id, ARGV[7], ARGV[9])
end
return esc_record(prefix, id)
