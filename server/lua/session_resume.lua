-- session_resume.lua — check a resume token's hash and the bans, and move the session to a new
-- holder in one step, so two racing resumes cannot both believe they hold it and a ban set
-- before the resume is never missed.
-- KEYS[1] sess:{S}
-- KEYS[2] <mod>ban:s:<S>
-- KEYS[3] <mod>ban:d:<device_id given in this hello> (absent when none)
-- ARGV: token_hash, instance, conn, ttl_s, device ('' when none), mod (the moderation key
--       prefix, e.g. "mod:{mod}:")
-- The bans of the stored device and of a staff account are keys built here from the record
-- (they are only known once it is read): like the audit chain, this assumes one Redis, not a
-- cluster.
-- Returns nil when the session is gone or the hash differs; {'banned'} when the session, its
-- device or its account is banned (the session is left as it was); else
-- {'ok', role, old_instance, old_conn, auth_hash, device} (auth_hash: the staff login token's
-- hash, '' for seekers; the caller re-checks it and releases the session when the token is
-- dead. device: the seeker's device id, '' when none).
local h = redis.call('HMGET', KEYS[1], 'token_hash', 'role', 'instance', 'conn', 'auth_hash',
                     'device', 'user')
if not h[1] or h[1] ~= ARGV[1] then
  return false
end
local role = h[2] or ''
local device = h[6] or ''
local user = h[7] or ''
local function exists(key)
  return redis.call('EXISTS', key) == 1
end
if exists(KEYS[2]) then
  return {'banned'}
end
if role == 'seeker' then
  -- Staff roles have no device: theirs is ignored.
  if KEYS[3] and exists(KEYS[3]) then
    return {'banned'}
  end
  if device ~= '' and exists(ARGV[6] .. 'ban:d:' .. device) then
    return {'banned'}
  end
  -- The first device a session names stays its device (blocks and bans follow it).
  if device == '' and ARGV[5] ~= '' then
    device = ARGV[5]
    redis.call('HSET', KEYS[1], 'device', device)
  end
elseif user ~= '' and exists(ARGV[6] .. 'ban:p:' .. user) then
  return {'banned'}
end
redis.call('HSET', KEYS[1], 'instance', ARGV[2], 'conn', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {'ok', role, h[3] or '', h[4] or '', h[5] or '', device}
