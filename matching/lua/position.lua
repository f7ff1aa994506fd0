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
-- Matches in the per-minute statistics hashes rate:<minute> (claim.lua) inside the window:
-- comparable by language and tag, and by language. A match that shares two of the request's
-- languages (or tags) is counted under each, so each sum is capped by the next wider count.
local function counts(prefix, now, window, langs, tags)
  local fields, lf, tf = {'*'}, {}, {}
  for l in string.gmatch(langs, '[^,]+') do
    fields[#fields + 1] = l
    lf[#lf + 1] = #fields
    for t in string.gmatch(tags, '[^,]+') do
      fields[#fields + 1] = l .. '|' .. t
      tf[#tf + 1] = #fields
    end
  end
  local total, by_lang, by_tag = 0, 0, 0
  for m = math.floor((now - window) / 60000), math.floor(now / 60000) do
    local v = redis.call('HMGET', prefix .. 'rate:' .. m, unpack(fields))
    total = total + (tonumber(v[1]) or 0)
    for _, i in ipairs(lf) do by_lang = by_lang + (tonumber(v[i]) or 0) end
    for _, i in ipairs(tf) do by_tag = by_tag + (tonumber(v[i]) or 0) end
  end
  by_lang = math.min(by_lang, total)
  return math.min(by_tag, by_lang), by_lang
end
-- A queue entry whose request hash expired leaves the queue and every seeker-order index.
local function prune_request(prefix, queue, s)
  redis.call('ZREM', queue, s)
  for _, l in ipairs(redis.call('SMEMBERS', prefix .. 'qlangs')) do
    redis.call('ZREM', prefix .. 'qo:' .. l, s)
  end
end
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
