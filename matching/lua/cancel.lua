-- cancel.lua — a seeker withdraws its waiting request (atomic with claims: exactly one wins).
-- KEYS[1] queue   KEYS[2] req:{S}
-- ARGV: session, key prefix (for the seeker-order index qo:<language>)
-- Returns 1 when a waiting request was removed, 0 when there was none.
local langs = redis.call('HGET', KEYS[2], 'langs')
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
local existed = redis.call('DEL', KEYS[2])
if langs and ARGV[2] then
  for l in string.gmatch(langs, '[^,]+') do
    redis.call('ZREM', ARGV[2] .. 'qo:' .. l, ARGV[1])
  end
end
if removed == 1 and existed == 1 then
  return 1
end
return 0
