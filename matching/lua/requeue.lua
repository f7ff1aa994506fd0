-- requeue.lua — put the seeker of an ended conversation back in the queue, ahead of every
-- equal-risk seeker (peer_unavailable, transfer), with the tags, languages and risk of its
-- original request, read from the match record so the caller needs none of them. Optionally
-- the peer it leaves is added to its blocked set (a transfer should reach someone else).
-- KEYS[1] conv:{C}   KEYS[2] queue   KEYS[3] seq
-- ARGV: key prefix, conversation id, now ms, request ttl ms, avoid peer (0/1), block ttl ms,
--       replace payload (0/1), payload
-- Returns {'ok', request_id, session}
--      or {'fail', 'not_found' | 'already_requeued' | 'already_queued' | 'in_conversation'}.
local prefix = ARGV[1]
local m = redis.call('HMGET', KEYS[1], 'session', 'peer', 'tags', 'langs', 'risk', 'payload',
                     'requeued')
if not m[1] then
  return {'fail', 'not_found'}
end
if m[7] == '1' then
  return {'fail', 'already_requeued'}
end
local s = m[1]
local rkey = prefix .. 'req:' .. s
if redis.call('EXISTS', rkey) == 1 then
  return {'fail', 'already_queued'}
end
local skey = prefix .. 'seeker:' .. s
local current = redis.call('GET', skey)
if current and current ~= ARGV[2] then
  return {'fail', 'in_conversation'}
end
if current then
  redis.call('DEL', skey)
end
local payload = m[6] or ''
if ARGV[7] == '1' then
  payload = ARGV[8]
end
local id = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', rkey, 'id', id, 'tags', m[3] or '', 'langs', m[4] or '', 'risk',
           m[5] or 'none', 'at', ARGV[3], 'first', '1', 'payload', payload)
redis.call('PEXPIRE', rkey, ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], s)
-- The seeker-order index (enqueue.lua): re-queued requests rank ahead of equal risk.
local levels = {none = 4, low = 3, medium = 2, high = 1, imminent = 0}
local score = string.format('%.0f', (levels[m[5] or 'none'] or 4) * 2 * 4398046511104 + tonumber(ARGV[3]))
for l in string.gmatch(m[4] or '', '[^,]+') do
  redis.call('ZADD', prefix .. 'qo:' .. l, score, s)
  redis.call('SADD', prefix .. 'qlangs', l)
end
if ARGV[5] == '1' then
  local bkey = prefix .. 'blocked:' .. s
  redis.call('SADD', bkey, m[2])
  if redis.call('PTTL', bkey) < tonumber(ARGV[6]) then
    redis.call('PEXPIRE', bkey, ARGV[6])
  end
end
redis.call('HSET', KEYS[1], 'requeued', '1')
return {'ok', id, s}
