-- audit_only.lua — an audit entry for an action whose change lives elsewhere (a moderator's
-- join is stored by relay/). audit_append.lua prepended.
-- KEYS: audit
-- ARGV: audit_max_len, actor, action, target, at, detail
-- Returns 1.
audit_append(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1
