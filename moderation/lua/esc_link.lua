-- esc_link.lua — seeker session S was matched into conversation C with peer P: each of S's
-- escalations raised without a conversation gets C and P and moves into esc:conv:<C>.
-- esc_record.lua prepended.
-- KEYS: esc:sess:<S>, esc:conv:<C>
-- ARGV: prefix, conv, peer, index_ttl_ms
-- Returns the changed records.
local prefix = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = prefix .. 'esc:' .. id
  local conv = redis.call('HGET', key, 'conv')
  if conv == '' then
    redis.call('HSET', key, 'conv', ARGV[2], 'peer', ARGV[3])
    esc_index(KEYS[2], id, ARGV[4])
    out[#out + 1] = esc_record(prefix, id)
  end
end
redis.call('DEL', KEYS[1])
return out
