-- ins_add.lua — counter increments in one step, each touched hash's retention renewed.
-- KEYS: the distinct hashes. ARGV[1]: retention in seconds; then triples
-- (index into KEYS, field, amount). Returns the number of increments applied.
local ttl = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  n = n + 1
end
for _, k in ipairs(KEYS) do
  redis.call('EXPIRE', k, ttl)
end
return n
