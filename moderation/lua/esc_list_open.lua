-- esc_list_open.lua — every unresolved escalation, oldest first (esc_record.lua prepended).
-- ARGV: prefix. Members of esc:open whose record is gone are skipped (open records never
-- expire, so that is a manual deletion).
local out = {}
for _, id in ipairs(redis.call('ZRANGE', ARGV[1] .. 'esc:open', 0, -1)) do
  local r = esc_record(ARGV[1], id)
  if r then
    out[#out + 1] = r
  end
end
return out
