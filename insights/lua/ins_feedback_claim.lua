-- ins_feedback_claim.lua — one feedback per conversation. KEYS[1]: the conversation's
-- insights side hash (conv:{c}:ins). ARGV[1]: its TTL in seconds when the hash is new.
-- Returns {0} when feedback was already given, else {1, tags, languages} (comma-joined,
-- empty when the conversation's cells are unknown). The flag never reaches the aggregates.
if redis.call('HSETNX', KEYS[1], 'fb', '1') == 0 then
  return {0}
end
if redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
end
local v = redis.call('HMGET', KEYS[1], 't', 'l')
return {1, v[1] or '', v[2] or ''}
