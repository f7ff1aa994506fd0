-- conv_discard.lua — remove a conversation that was created for a match which then did not
-- happen (matching creates it while the claim is still in flight): only while it is exactly
-- as create left it — active, these two parties, no moderator, nothing stored. Anything else
-- is kept, so a discard can never take a conversation somebody uses.
-- KEYS[1] conv:{c}  KEYS[2] conv:{c}:log  KEYS[3] conv:{c}:seq
-- ARGV: 1 seeker id, 2 peer id
-- Returns {'discarded'} | {'missing'} | {'kept'}
local m = redis.call('HMGET', KEYS[1], 'state', 'seeker', 'peer', 'moderator', 'last_offset')
if not m[1] then
  return {'missing'}
end
if m[1] ~= 'active' or m[2] ~= ARGV[1] or m[3] ~= ARGV[2] or (m[4] and m[4] ~= '') or
    m[5] ~= '0' or redis.call('EXISTS', KEYS[2]) == 1 then
  return {'kept'}
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {'discarded'}
