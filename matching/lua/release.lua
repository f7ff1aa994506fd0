-- release.lua — a conversation ended: give its slot back to the peer (once, however often
-- this runs), record when the peer became idle, finish a shift that was ending, and clear
-- the seeker's conversation pointer if it still names this conversation.
-- KEYS[1] conv:{C}   KEYS[2] peers (set)
-- ARGV: key prefix, conversation id, now ms
-- Returns {'ok' | 'already', peer, session, state, active, cap} or {'fail', 'not_found'}.
-- Free-slot index (see claim.lua): pf:<language> and pf:<language>|<tag> hold the peers whose
-- shift is on with active < cap, scored least loaded first (active/cap, then active), then
-- idle longest. A nil score takes the peer out.
local function index_peer(prefix, id, langs, tags, score)
  for l in string.gmatch(langs or '', '[^,]+') do
    local keys = {prefix .. 'pf:' .. l}
    for t in string.gmatch(tags or '', '[^,]+') do
      keys[#keys + 1] = prefix .. 'pf:' .. l .. '|' .. t
    end
    for _, k in ipairs(keys) do
      if score then
        redis.call('ZADD', k, score, id)
      else
        redis.call('ZREM', k, id)
      end
    end
  end
end
local function free_score(state, active, cap, idle)
  active, cap = tonumber(active) or 0, tonumber(cap) or 0
  if state ~= 'on' or active >= cap or cap < 1 then
    return nil
  end
  return string.format('%.0f', (math.floor(active * 60 / cap) * 5 + active) * 4398046511104
                               + (tonumber(idle) or 0))
end
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
