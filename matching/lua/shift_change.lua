-- shift_change.lua — pause, resume or end a shift.
--   pause:  on/paused -> paused         resume: on/paused -> on
--   end:    on/paused/ending -> ending, or off at once when no conversation is left; off stays off
-- Anything else is refused with wrong_state and changes nothing.
-- KEYS[1] peer:{P}   KEYS[2] peers (set)
-- ARGV: peer id, operation ('pause' | 'resume' | 'end'), key prefix (free-slot index)
-- Returns {'ok', shift_id, state, active, cap}, {'fail', 'wrong_state', shift_id, state, active,
-- cap} or {'fail', 'not_found'}.
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
local h = redis.call('HMGET', KEYS[1], 'state', 'active', 'cap', 'shift', 'langs', 'tags', 'idle')
if not h[1] then
  return {'fail', 'not_found'}
end
local state = h[1]
local active = tonumber(h[2] or '0') or 0
local cap = tonumber(h[3] or '0') or 0
local shift = h[4] or ''
local op = ARGV[2]
local next_state
if op == 'pause' then
  if state == 'on' or state == 'paused' then next_state = 'paused' end
elseif op == 'resume' then
  if state == 'on' or state == 'paused' then next_state = 'on' end
elseif op == 'end' then
  if state == 'off' then
    next_state = 'off'
  elseif active <= 0 then
    next_state = 'off'
  else
    next_state = 'ending'
  end
end
if not next_state then
  return {'fail', 'wrong_state', shift, state, active, cap}
end
redis.call('HSET', KEYS[1], 'state', next_state)
if next_state == 'off' then
  redis.call('SREM', KEYS[2], ARGV[1])
end
index_peer(ARGV[3] or '', ARGV[1], h[5], h[6], free_score(next_state, active, cap, h[7]))
return {'ok', shift, next_state, active, cap}
