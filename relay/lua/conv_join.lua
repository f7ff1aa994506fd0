-- conv_join.lua — a moderator becomes a party of an active conversation (replacing the one
-- before, if any). From then on every message needs a `moderator` copy too.
-- KEYS[1] conv:{c}
-- ARGV: 1 moderator id
-- Returns {'joined'|'already', previous moderator or '', seeker, peer, remaining ttl ms}
--      or {'not_found'} | {'ended'}
local m = redis.call('HMGET', KEYS[1], 'state', 'seeker', 'peer', 'moderator')
if not m[1] then
  return {'not_found'}
end
if m[1] ~= 'active' then
  return {'ended'}
end
local ttl = redis.call('PTTL', KEYS[1])
if m[4] == ARGV[1] then
  return {'already', m[4], m[2] or '', m[3] or '', ttl}
end
redis.call('HSET', KEYS[1], 'moderator', ARGV[1])
return {'joined', m[4] or '', m[2] or '', m[3] or '', ttl}
