-- login_begin.lua — count this login attempt against the attempted name, and read what the
-- password check needs. Counting BEFORE the check makes concurrent guesses on several
-- instances share one budget; a successful login clears the count (token_issue.lua).
-- KEYS: login_fail:{h(name)}, user:{name}
-- ARGV: max_failures, window_s
-- Returns {0, retry_after_s} when locked, else {1, password_hash or '', disabled or ''}.
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
if n > tonumber(ARGV[1]) then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {0, ttl}
end
local u = redis.call('HMGET', KEYS[2], 'password', 'disabled')
return {1, u[1] or '', u[2] or ''}
