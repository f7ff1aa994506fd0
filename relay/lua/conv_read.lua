-- conv_read.lua — one batch of the log after an offset, with the meta it must agree with,
-- read in one step so the batch and last_offset are consistent. The caller checks for gaps.
-- KEYS[1] conv:{c}  KEYS[2] conv:{c}:log
-- ARGV: 1 reader role ('' = the server itself, no party check), 2 reader id, 3 after,
--       4 max count
-- Returns {'ok', state, epoch, last_offset, entries (XRANGE reply)} | {'missing'} | {'not_found'}
local m = redis.call('HMGET', KEYS[1], 'state', 'seeker', 'peer', 'moderator', 'epoch',
                     'last_offset')
if not m[1] then
  return {'missing'}
end
if ARGV[1] ~= '' then
  local held = {seeker = m[2], peer = m[3], moderator = m[4]}
  if not held[ARGV[1]] or held[ARGV[1]] ~= ARGV[2] then
    return {'not_found'}
  end
end
local last = tonumber(m[6] or '0') or 0
local after = tonumber(ARGV[3])
local entries = {}
if after < last then
  entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', after + 1),
                       string.format('%d-0', last), 'COUNT', ARGV[4])
end
return {'ok', m[1], m[5] or '', m[6] or '0', entries}
