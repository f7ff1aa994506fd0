-- position.lua — one waiting request's place in the queue and its wait-estimate counts, from
-- the indexes instead of a read of the queue: O(log n) for a request with one language.
-- Position = requests ahead of it in seeker order that share a language with it, plus one:
-- ZRANK in qo:<language> (enqueue.lua scores it in seeker order); with several languages, the
-- union of the members ahead in each (linear in those ahead). Prunes the request when its
-- hash expired.
-- KEYS[1] queue   KEYS[2] req:{S}   KEYS[3] stats_since
-- ARGV: key prefix, session, now ms, stats window ms
-- Returns false when the request is not waiting, else
--   {id, tags, langs, risk, at, first, position, matches by tag, matches by language, since}.
-- counts, prune_request: lib/queue.lua, prepended at build time.
local prefix, s = ARGV[1], ARGV[2]
local r = redis.call('HMGET', KEYS[2], 'id', 'tags', 'langs', 'risk', 'at', 'first')
local queued = redis.call('ZSCORE', KEYS[1], s)
if not r[1] then
  if queued then
    prune_request(prefix, KEYS[1], s)
  end
  return false
end
if not queued then
  return false
end
local langs = {}
for l in string.gmatch(r[3] or '', '[^,]+') do
  langs[#langs + 1] = l
end
local position = 1
if #langs == 1 then
  position = (redis.call('ZRANK', prefix .. 'qo:' .. langs[1], s) or 0) + 1
else
  local ahead, n = {}, 0
  for _, l in ipairs(langs) do
    local rank = redis.call('ZRANK', prefix .. 'qo:' .. l, s)
    if rank and rank > 0 then
      for _, other in ipairs(redis.call('ZRANGE', prefix .. 'qo:' .. l, 0, rank - 1)) do
        if not ahead[other] then
          ahead[other] = true
          n = n + 1
        end
      end
    end
  end
  position = n + 1
end
local by_tag, by_lang = counts(prefix, tonumber(ARGV[3]), tonumber(ARGV[4]), r[3] or '', r[2] or '')
return {r[1], r[2] or '', r[3] or '', r[4] or '', r[5] or '0', r[6] or '0', position, by_tag,
        by_lang, redis.call('GET', KEYS[3]) or ''}
