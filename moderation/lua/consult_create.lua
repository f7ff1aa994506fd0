-- consult_create.lua — a peer's private consult to the moderators on duty: who asked, from
-- which session, about which conversation; the sealed texts are never stored.
-- KEYS: consult:<K>
-- ARGV: peer, session, conv, created_at, ttl_ms
-- Returns 1, or 0 when the id is taken (an id generator bug).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'peer', ARGV[1], 'session', ARGV[2], 'conv', ARGV[3],
           'created_at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
