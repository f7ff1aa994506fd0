-- shift_start.lua — a peer starts (or re-opens) a shift: state on, with its capacity, tags,
-- languages, won't-take tags and optional planned end. Conversations already in progress are
-- kept (active is not reset), so a new shift can never push a peer past its capacity. Every
-- start takes a fresh shift id: a claim planned on the old shift's tags is refused.
-- KEYS[1] peer:{P}   KEYS[2] peers (set)   KEYS[3] alive:{P}   KEYS[4] seq
-- ARGV: peer id, capacity, tags, languages, wont, planned end ms or '', now ms, presence ttl ms,
--       key prefix (for the free-slot index)
-- Returns {shift_id, state, active, cap}.
-- index_peer, free_score: lib/free_slots.lua, prepended at build time.
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
