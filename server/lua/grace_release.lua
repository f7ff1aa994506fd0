-- grace_release.lua — a draining instance hands the grace lease back (grace_lease.lua), so
-- the next instance to tick takes the scan over at once instead of when the lease expires.
-- Only its own: a lease another instance holds is left alone.
-- KEYS[1] grace:{lease}
-- ARGV: 1 instance id
-- Returns 1 when this instance's lease was removed, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
