-- esc_repage.lua — takes the due re-pages: up to `batch` members of esc:due with score ≤ now.
-- Each still-open one gets repaged + 1, next due = now + its level's deadline and an audit
-- entry; anything else (acknowledged, resolved, gone, or a level that no longer has a
-- deadline) just leaves esc:due. Redis runs one script at a time, so every due re-page is
-- taken by exactly one caller, whichever instance that is. esc_record.lua and
-- audit_append.lua prepended.
-- KEYS: esc:due, audit
-- ARGV: prefix, now_ms, batch, audit_max_len, deadline ms of low, medium, high, imminent
-- Returns the re-paged records.
local prefix, now = ARGV[1], ARGV[2]
local deadline = {low = tonumber(ARGV[5]), medium = tonumber(ARGV[6]), high = tonumber(ARGV[7]),
                  imminent = tonumber(ARGV[8])}
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[3])
for _, id in ipairs(due) do
  local key = prefix .. 'esc:' .. id
  local f = redis.call('HMGET', key, 'state', 'level')
  local d = deadline[f[2]] or 0
  if f[1] ~= 'open' or d <= 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    local n = redis.call('HINCRBY', key, 'repaged', 1)
    redis.call('ZADD', KEYS[1], string.format('%.0f', tonumber(now) + d), id)
    audit_append(KEYS[2], ARGV[4], 'system', 'escalation.repage', id, now, tostring(n))
    out[#out + 1] = esc_record(prefix, id)
  end
end
return out
