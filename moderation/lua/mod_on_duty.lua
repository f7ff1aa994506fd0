-- mod_on_duty.lua — the moderators on duty now (presence expiry > now).
-- KEYS: mods:on, mods:sess, mods:key
-- ARGV: now_ms
-- Returns flat triples: moderator, session, pubkey (base64).
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')) do
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', KEYS[2], m) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], m) or ''
end
return out
