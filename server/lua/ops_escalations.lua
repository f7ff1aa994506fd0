-- ops_escalations.lua — read-only: every unresolved escalation's id, level, state and times,
-- oldest first, for `kindredctl status` and the escalation gauges. Touches only the
-- moderation store's keys (one hash tag); never the note, excerpts or parties.
-- KEYS[1] <moderation prefix>esc:open
-- ARGV: moderation prefix
-- Returns a JSON text: [[id, level, state, created_at_ms, acknowledged_at_ms, repaged], ...]
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('HMGET', ARGV[1] .. 'esc:' .. id, 'level', 'state', 'created_at',
                       'acknowledged_at', 'repaged')
  if h[1] then
    out[#out + 1] = {id, h[1], h[2] or 'open', tonumber(h[3]) or 0, tonumber(h[4]) or 0,
                     tonumber(h[5]) or 0}
  end
end
return cjson.encode(out)
