-- cancel.lua — a seeker withdraws its waiting request (atomic with claims: exactly one wins).
-- KEYS[1] queue   KEYS[2] req:{S}
-- ARGV: session
-- Returns 1 when a waiting request was removed, 0 when there was none.
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
local existed = redis.call('DEL', KEYS[2])
if removed == 1 and existed == 1 then
  return 1
end
return 0
