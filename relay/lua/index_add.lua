-- index_add.lua — list a conversation in one party's index (for the hello answer). The score
-- is the conversation's hard-limit deadline (caller's clock, ms): members past it are pruned
-- here, and the key lives as long as its latest member. Readers still check each meta, so
-- the index may be stale but never decides membership. A separate key (hash tag of the
-- party), so this runs as its own call and stays valid on Redis Cluster.
-- KEYS[1] party:{role:id}:convs
-- ARGV: 1 conversation id, 2 deadline ms, 3 now ms, 4 ttl ms
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
