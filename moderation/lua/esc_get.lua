-- esc_get.lua — one escalation (esc_record.lua prepended).
-- ARGV: prefix, id. Returns the record, or an empty array when there is none.
return esc_record(ARGV[1], ARGV[2]) or {}
