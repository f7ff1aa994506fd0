-- ops_instances.lua — read-only: every live instance (an `inst:{id}` heartbeat key) with the
-- statistics it wrote next to it (`inst:{id}:info`). SCAN, not a registry set: a killed
-- instance disappears when its heartbeat key expires, with nothing to clean up.
-- No KEYS (instances have one hash tag each; in Redis Cluster run this on every primary).
-- ARGV: none
-- Returns a JSON text: [[id, started_at_ms, heartbeat_at_ms, connections, seekers, peers,
--   moderators, draining, ttl_s], ...]
local out = {}
local cursor = '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', 'inst:{*}', 'COUNT', 1000)
  cursor = r[1]
  for _, key in ipairs(r[2]) do
    local id = string.sub(key, 7, -2)
    local started = redis.call('GET', key)
    if started then
      local h = redis.call('HMGET', key .. ':info', 'heartbeat_at', 'connections', 'seekers',
                           'peers', 'moderators', 'draining')
      out[#out + 1] = {id, tonumber(started) or 0, tonumber(h[1]) or 0, tonumber(h[2]) or 0,
                       tonumber(h[3]) or 0, tonumber(h[4]) or 0, tonumber(h[5]) or 0,
                       h[6] == '1', redis.call('TTL', key)}
    end
  end
until cursor == '0'
return cjson.encode(out)
