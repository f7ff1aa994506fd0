-- claim.lua — make one match, atomically, after re-checking every hard rule in Redis: the
-- request is still the one the snapshot saw and still waiting; the peer is still on the same
-- shift, present, not in a wellbeing cooldown, below capacity, not inside its planned-end
-- window, has a prekey, and has not blocked the seeker. Then: take the request off the queue,
-- count the conversation on the peer, pop one prekey, write the match record and the seeker's
-- conversation pointer, count the match in the wait statistics (per-minute counters, no
-- session, no peer), and keep the two indexes current: the request leaves qo:<language>, the
-- peer is re-scored in (or, when full, leaves) its free-slot zsets pf:<language>[|<tag>]. All checks come before the
-- first write, so a refusal changes nothing. Two claims for one request or one last slot: Redis runs one script at a
-- time, so the second sees the first's writes and is refused.
-- KEYS[1] queue  KEYS[2] req:{S}  KEYS[3] peer:{P}  KEYS[4] alive:{P}  KEYS[5] prekeys:{P}
-- KEYS[6] blocked:{S}  KEYS[7] conv:{C}  KEYS[8] seeker:{S}  KEYS[9] rate:<minute of now>
-- KEYS[10] stats_since  KEYS[11] cooldown:{P}
-- ARGV: 1 session, 2 request id, 3 peer id, 4 shift id, 5 conversation id, 6 relaxed (0/1),
--       7 shared tags (comma-joined), 8 now ms, 9 end window ms, 10 record ttl ms,
--       11 stats window ms, 12 key prefix
-- Returns {'ok', prekey, active, cap, prekeys_left, tags, langs, risk, at, first, payload}
--      or {'fail', reason}.
local r = redis.call('HMGET', KEYS[2], 'id', 'tags', 'langs', 'risk', 'at', 'first', 'payload')
if r[1] ~= ARGV[2] or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {'fail', 'not_waiting'}
end
local p = redis.call('HMGET', KEYS[3], 'shift', 'state', 'cap', 'active', 'end', 'langs', 'tags',
                     'idle')
if p[1] ~= ARGV[4] then
  return {'fail', 'stale_shift'}
end
if p[2] ~= 'on' then
  return {'fail', 'shift_not_on'}
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  return {'fail', 'not_present'}
end
-- Peer wellbeing: the cooldown may have started after the snapshot this claim was planned on.
if redis.call('EXISTS', KEYS[11]) == 1 then
  return {'fail', 'cooling_down'}
end
local cap = tonumber(p[3]) or 0
local active = tonumber(p[4]) or 0
if active >= cap then
  return {'fail', 'no_capacity'}
end
local now = tonumber(ARGV[8])
if p[5] and p[5] ~= '' and now >= tonumber(p[5]) - tonumber(ARGV[9]) then
  return {'fail', 'shift_ending_soon'}
end
if redis.call('SISMEMBER', KEYS[6], ARGV[3]) == 1 then
  return {'fail', 'blocked'}
end
if redis.call('LLEN', KEYS[5]) == 0 then
  return {'fail', 'no_prekey'}
end
if redis.call('EXISTS', KEYS[7]) == 1 then
  return {'fail', 'conversation_exists'}
end
-- Every rule holds: commit.
local prekey = redis.call('LPOP', KEYS[5])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
active = redis.call('HINCRBY', KEYS[3], 'active', 1)
local tags, langs, risk, at, first = r[2] or '', r[3] or '', r[4] or 'none', r[5] or '0', r[6] or '0'
local payload = r[7] or ''
redis.call('HSET', KEYS[7], 'session', ARGV[1], 'peer', ARGV[3], 'prekey', prekey,
           'relaxed', ARGV[6], 'shared', ARGV[7], 'tags', tags, 'langs', langs, 'risk', risk,
           'at', at, 'first', first, 'payload', payload, 'matched_at', ARGV[8], 'released', '0',
           'requeued', '0')
redis.call('PEXPIRE', KEYS[7], ARGV[10])
redis.call('SET', KEYS[8], ARGV[5], 'PX', ARGV[10])
local prefix = ARGV[12]
for l in string.gmatch(langs, '[^,]+') do
  redis.call('ZREM', prefix .. 'qo:' .. l, ARGV[1])
end
-- Wait statistics: counters in this minute's hash, '*' for all matches, '<lang>' and
-- '<lang>|<tag>' for the seeker's languages and tags. No session, no peer.
redis.call('HINCRBY', KEYS[9], '*', 1)
for l in string.gmatch(langs, '[^,]+') do
  redis.call('HINCRBY', KEYS[9], l, 1)
  for t in string.gmatch(tags, '[^,]+') do
    redis.call('HINCRBY', KEYS[9], l .. '|' .. t, 1)
  end
end
redis.call('PEXPIRE', KEYS[9], tonumber(ARGV[11]) + 120000)
redis.call('SET', KEYS[10], ARGV[8], 'NX')
-- Free-slot index (lib/free_slots.lua, prepended at build time): re-score the peer (least
-- loaded, then idle longest), or drop it when full. The state is 'on' (checked above).
index_peer(prefix, ARGV[3], p[6] or '', p[7] or '', free_score('on', active, cap, p[8]))
local left = redis.call('LLEN', KEYS[5])
return {'ok', prekey, active, cap, left, tags, langs, risk, at, first, payload}
