-- conv_create.lua — a new conversation's meta: state active, the two parties, a fresh epoch,
-- last_offset 0, expiring at the hard limit. Idempotent for the same parties (a retry after a
-- timeout keeps the first epoch). A log or seq hash left without a meta (history lost with
-- the meta) is removed, so offsets start again at 1 under the new epoch.
-- KEYS[1] conv:{c}  KEYS[2] conv:{c}:log  KEYS[3] conv:{c}:seq
-- ARGV: 1 seeker id, 2 peer id, 3 created_at ms, 4 hard limit ms, 5 epoch
-- Returns {'created', epoch} | {'exists', epoch} | {'taken'}
if redis.call('EXISTS', KEYS[1]) == 1 then
  local m = redis.call('HMGET', KEYS[1], 'seeker', 'peer', 'epoch')
  if m[1] == ARGV[1] and m[2] == ARGV[2] then
    return {'exists', m[3] or ''}
  end
  return {'taken'}
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'state', 'active', 'seeker', ARGV[1], 'peer', ARGV[2],
           'created_at', ARGV[3], 'epoch', ARGV[5], 'last_offset', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'created', ARGV[5]}
