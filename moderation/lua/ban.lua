-- ban.lua — refuses a party for a while: each ban key "1" with PX = duration (a ban only ever
-- grows: a shorter second ban does not shorten the first), and the audit entry, together.
-- audit_append.lua prepended.
-- KEYS: audit, then the ban keys (ban:d:<device>, ban:s:<session>, ban:p:<username>)
-- ARGV: audit_max_len, actor, action (ban.seeker | ban.peer), target, at, detail, px
-- Returns 1.
local px = tonumber(ARGV[7])
for i = 2, #KEYS do
  if redis.call('PTTL', KEYS[i]) < px then
    redis.call('SET', KEYS[i], '1', 'PX', ARGV[7])
  end
end
audit_append(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1
