-- shift_change.lua — pause, resume or end a shift.
--   pause:  on/paused -> paused         resume: on/paused -> on
--   end:    on/paused/ending -> ending, or off at once when no conversation is left; off stays off
-- Anything else is refused with wrong_state and changes nothing.
-- KEYS[1] peer:{P}   KEYS[2] peers (set)
-- ARGV: peer id, operation ('pause' | 'resume' | 'end'), key prefix (free-slot index)
-- Returns {'ok', shift_id, state, active, cap}, {'fail', 'wrong_state', shift_id, state, active,
-- cap} or {'fail', 'not_found'}.
-- index_peer, free_score: lib/free_slots.lua, prepended at build time.
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
