-- find_match.lua — the match record of a seeker's current conversation, if any.
-- KEYS[1] seeker:{S}
-- ARGV: key prefix
-- Returns {conversation id, HGETALL of its record} or false.
local c = redis.call('GET', KEYS[1])
if not c then
  return false
end
return {c, redis.call('HGETALL', ARGV[1] .. 'conv:' .. c)}
