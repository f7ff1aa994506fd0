-- lib/free_slots.lua — the free-slot index upkeep, prepended at build time to every script that
-- moves a peer in or out of it (matching/CMakeLists.txt: PRELUDE). Redis scripts cannot share
-- functions, so this is the one copy. pf:<language> and pf:<language>|<tag> hold the peers whose
-- shift is on with active < cap, scored least loaded first (active/cap, then active), then idle
-- longest; snapshot.lua reads candidates from them, claim.lua re-scores the claimed peer.
-- index_peer: set the peer's score in every zset of its languages and tags; a nil score takes
-- the peer out.
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
-- free_score: the peer's score, or nil when it has no free slot (not on, or full).
local function free_score(state, active, cap, idle)
  active, cap = tonumber(active) or 0, tonumber(cap) or 0
  if state ~= 'on' or active >= cap or cap < 1 then
    return nil
  end
  return string.format('%.0f', (math.floor(active * 60 / cap) * 5 + active) * 4398046511104
                               + (tonumber(idle) or 0))
end
