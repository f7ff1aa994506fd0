-- ops_instances.lua — read-only: every live instance with the statistics it wrote next to
-- its heartbeat. The instances are the members of the registry zset (KEYS[1], written with
-- each heartbeat; score = when that heartbeat lapses); an instance is live while its
-- heartbeat key `inst:{id}` exists, so a killed one drops out when that key expires, and
-- its registry entry is pruned by the next heartbeat of any instance. O(instances): never a
-- SCAN of the keyspace, which blocked Redis for tens of milliseconds on a large one.
-- Computes the `inst:{id}` keys (one hash tag each): in Redis Cluster, not Cluster-safe.
-- KEYS[1] the registry zset
-- ARGV: none
-- Returns a JSON text: [[id, started_at_ms, heartbeat_at_ms, connections, seekers, peers,
--   moderators, draining, ttl_s], ...]
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = 'inst:{' .. id .. '}'
  local started = redis.call('GET', key)
  if started then
    local h = redis.call('HMGET', key .. ':info', 'heartbeat_at', 'connections', 'seekers',
                         'peers', 'moderators', 'draining')
    out[#out + 1] = {id, tonumber(started) or 0, tonumber(h[1]) or 0, tonumber(h[2]) or 0,
                     tonumber(h[3]) or 0, tonumber(h[4]) or 0, tonumber(h[5]) or 0,
                     h[6] == '1', redis.call('TTL', key)}
  end
end
return cjson.encode(out)
