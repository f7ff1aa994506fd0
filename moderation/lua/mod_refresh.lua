-- mod_refresh.lua — renews the presence of moderators whose duty is still held by the given
-- session (a newer watch from another session, or an unwatch, wins).
-- KEYS: mods:on, mods:sess
-- ARGV: expiry_ms, then moderator, session pairs
-- Returns the number renewed.
local n = 0
for i = 2, #ARGV - 1, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
    n = n + 1
  end
end
return n
