-- block.lua — a peer never gets this seeker again (contract `block`), for as long as the
-- seeker's session can live. The TTL only ever grows.
-- KEYS[1] blocked:{S}
-- ARGV: peer id, ttl ms
-- Returns 1.
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
