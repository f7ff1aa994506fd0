-- conv_append.lua — store one message, atomically: the conversation exists, the sender is a
-- party, its seq is new (a stored seq answers its original offset), the conversation is
-- active, the copies are exactly one per other party present, the seq is above the sender's
-- last; then offset = last_offset + 1 and XADD with entry id <offset>-0. Every check comes
-- before the first write, and XADD (the only write that can fail) comes first, so a refusal
-- or a failure changes nothing.
-- The seq hash holds, per sender, `last:<sender>` = its last seq and `<sender>:<seq>` = the
-- offset, where sender is `seeker`, `peer` or `moderator:<id>` (each moderator counts its own
-- seq). New keys take the meta's remaining TTL, so the hard limit holds for every key.
-- KEYS[1] conv:{c}  KEYS[2] conv:{c}:log  KEYS[3] conv:{c}:seq
-- ARGV: 1 from role, 2 from id, 3 seq, 4 sent_at ms, then per copy: to role, nonce, ciphertext
-- Returns {'ok'|'dup', offset, epoch, seeker, peer, moderator}
--      or {'not_found'} | {'ended'} | {'bad_copies'} | {'seq_conflict'} | {'corrupt'}
local m = redis.call('HMGET', KEYS[1], 'state', 'seeker', 'peer', 'moderator', 'epoch',
                     'last_offset')
if not m[1] then
  return {'not_found'}
end
local held = {seeker = m[2], peer = m[3], moderator = m[4]}
local from = ARGV[1]
if not held[from] or held[from] ~= ARGV[2] then
  return {'not_found'}
end
local sender = from
if from == 'moderator' then
  sender = 'moderator:' .. ARGV[2]
end
local epoch = m[5] or ''
local prior = redis.call('HGET', KEYS[3], sender .. ':' .. ARGV[3])
if prior then
  return {'dup', prior, epoch, m[2] or '', m[3] or '', m[4] or ''}
end
if m[1] ~= 'active' then
  return {'ended'}
end
-- Copies: exactly one per other party present.
local want, count = {}, 0
for _, r in ipairs({'seeker', 'peer', 'moderator'}) do
  if r ~= from and held[r] then
    want[r] = true
    count = count + 1
  end
end
local extra = #ARGV - 4
if extra % 3 ~= 0 or extra / 3 ~= count then
  return {'bad_copies'}
end
local fields = {'from', from, 'seq', ARGV[3], 'sent_at', ARGV[4]}
for i = 5, #ARGV, 3 do
  local to = ARGV[i]
  if not want[to] then
    return {'bad_copies'}
  end
  want[to] = nil
  fields[#fields + 1] = 'n:' .. to
  fields[#fields + 1] = ARGV[i + 1]
  fields[#fields + 1] = 'c:' .. to
  fields[#fields + 1] = ARGV[i + 2]
end
local last = tonumber(redis.call('HGET', KEYS[3], 'last:' .. sender) or '0')
if tonumber(ARGV[3]) <= last then
  return {'seq_conflict'}
end
-- string.format('%d'): tostring() would print large offsets as 1e+15.
local offset = string.format('%d', (tonumber(m[6] or '0') or 0) + 1)
local added = redis.pcall('XADD', KEYS[2], offset .. '-0', unpack(fields))
if type(added) == 'table' and added.err then
  return {'corrupt'}
end
redis.call('HSET', KEYS[1], 'last_offset', offset)
redis.call('HSET', KEYS[3], 'last:' .. sender, ARGV[3], sender .. ':' .. ARGV[3], offset)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return {'ok', offset, epoch, m[2] or '', m[3] or '', m[4] or ''}
