-- release.lua — a conversation ended: give its slot back to the peer (once, however often
-- this runs), record when the peer became idle, finish a shift that was ending, and clear
-- the seeker's conversation pointer if it still names this conversation.
-- KEYS[1] conv:{C}   KEYS[2] peers (set)
-- ARGV: key prefix, conversation id, now ms
-- Returns {'ok' | 'already', peer, session, state, active, cap} or {'fail', 'not_found'}.
-- index_peer, free_score: lib/free_slots.lua, prepended at build time.
local prefix = ARGV[1]
local m = redis.call('HMGET', KEYS[1], 'peer', 'session', 'released')
if not m[1] then
  return {'fail', 'not_found'}
end
local pkey = prefix .. 'peer:' .. m[1]
local status = 'already'
if m[3] ~= '1' then
  status = 'ok'
  redis.call('HSET', KEYS[1], 'released', '1')
  if redis.call('EXISTS', pkey) == 1 then
    local active = tonumber(redis.call('HGET', pkey, 'active') or '0') or 0
    if active > 0 then
      active = redis.call('HINCRBY', pkey, 'active', -1)
    end
    redis.call('HSET', pkey, 'idle', ARGV[3])
    if active <= 0 and redis.call('HGET', pkey, 'state') == 'ending' then
      redis.call('HSET', pkey, 'state', 'off')
      redis.call('SREM', KEYS[2], m[1])
    end
  end
  local f = redis.call('HMGET', pkey, 'state', 'active', 'cap', 'langs', 'tags', 'idle')
  if f[1] then
    index_peer(prefix, m[1], f[4], f[5], free_score(f[1], f[2], f[3], f[6]))
  end
  local skey = prefix .. 'seeker:' .. m[2]
  if redis.call('GET', skey) == ARGV[2] then
    redis.call('DEL', skey)
  end
end
local h = redis.call('HMGET', pkey, 'state', 'active', 'cap')
return {status, m[1], m[2], h[1] or 'off', tonumber(h[2] or '0') or 0, tonumber(h[3] or '0') or 0}
