-- shift_start.lua — a peer starts (or re-opens) a shift: state on, with its capacity, tags,
-- languages, won't-take tags and optional planned end. Conversations already in progress are
-- kept (active is not reset), so a new shift can never push a peer past its capacity. Every
-- start takes a fresh shift id: a claim planned on the old shift's tags is refused.
-- KEYS[1] peer:{P}   KEYS[2] peers (set)   KEYS[3] alive:{P}   KEYS[4] seq
-- ARGV: peer id, capacity, tags, languages, wont, planned end ms or '', now ms, presence ttl ms,
--       key prefix (for the free-slot index)
-- Returns {shift_id, state, active, cap}.
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
local h = redis.call('HMGET', KEYS[1], 'state', 'active', 'langs', 'tags', 'idle')
local state = h[1] or 'off'
local active = tonumber(h[2] or '0') or 0
local shift = tostring(redis.call('INCR', KEYS[4]))
redis.call('HSET', KEYS[1], 'shift', shift, 'state', 'on', 'cap', ARGV[2], 'tags', ARGV[3],
           'langs', ARGV[4], 'wont', ARGV[5], 'end', ARGV[6], 'active', tostring(active))
if state == 'off' then
  redis.call('HSET', KEYS[1], 'idle', ARGV[7])
end
redis.call('SADD', KEYS[2], ARGV[1])
local prefix = ARGV[9] or ''
index_peer(prefix, ARGV[1], h[3], h[4], nil)
local idle = h[5]
if state == 'off' or not idle then
  idle = ARGV[7]
end
index_peer(prefix, ARGV[1], ARGV[4], ARGV[3], free_score('on', active, ARGV[2], idle))
redis.call('SET', KEYS[3], '1', 'PX', ARGV[8])
return {shift, 'on', active, tonumber(ARGV[2])}
