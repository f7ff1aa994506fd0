-- grace_lease.lua — one instance at a time runs the grace scan (relay_service::grace_tick):
-- the checks are the same whoever makes them, so N instances each scanning every active
-- conversation would multiply that load by N. The lease is taken when free and renewed by
-- its holder at every tick; a holder that stops ticking (killed, draining, cut off from
-- Redis) loses it when it expires, and the next instance to tick takes over.
-- KEYS[1] grace:{lease}
-- ARGV: 1 instance id, 2 lease ms
-- Returns 1 when this instance holds the lease (now renewed), else 0.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
