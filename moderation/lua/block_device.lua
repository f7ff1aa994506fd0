-- block_device.lua — a peer blocks a seeker's device: the peer joins dblock:<device> (whose
-- TTL only grows), and the `block` audit entry (never the device id). Without a device only
-- the audit entry is written (the session block is matching's). audit_append.lua prepended.
-- KEYS: audit [, dblock:<device>]
-- ARGV: audit_max_len, peer, conversation id, at, ttl_ms
-- Returns 1.
if KEYS[2] then
  redis.call('SADD', KEYS[2], ARGV[2])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
end
audit_append(KEYS[1], ARGV[1], ARGV[2], 'block', ARGV[3], ARGV[4], '')
return 1
