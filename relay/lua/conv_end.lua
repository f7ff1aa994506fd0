-- conv_end.lua — end a conversation once: record who, why and when, and let every key of it
-- expire after the purge grace, never later than the hard limit it already has. A second end
-- changes nothing and answers the first one's by/reason/ended_at.
-- KEYS[1] conv:{c}  KEYS[2] conv:{c}:log  KEYS[3] conv:{c}:seq
-- ARGV: 1 by (seeker|peer|moderator|system), 2 by id (checked unless system), 3 reason,
--       4 now ms, 5 purge grace ms
-- Returns {'ended'|'already', by, reason, ended_at, seeker, peer, moderator} | {'not_found'}
local m = redis.call('HMGET', KEYS[1], 'state', 'seeker', 'peer', 'moderator', 'ended_by',
                     'reason', 'ended_at')
if not m[1] then
  return {'not_found'}
end
if ARGV[1] ~= 'system' then
  local held = {seeker = m[2], peer = m[3], moderator = m[4]}
  if not held[ARGV[1]] or held[ARGV[1]] ~= ARGV[2] then
    return {'not_found'}
  end
end
if m[1] == 'ended' then
  return {'already', m[5] or 'system', m[6] or '', m[7] or '0', m[2] or '', m[3] or '',
          m[4] or ''}
end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_by', ARGV[1], 'reason', ARGV[3],
           'ended_at', ARGV[4])
local purge = tonumber(ARGV[5])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 and ttl < purge then
  purge = ttl
end
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], purge)
end
return {'ended', ARGV[1], ARGV[3], ARGV[4], m[2] or '', m[3] or '', m[4] or ''}
