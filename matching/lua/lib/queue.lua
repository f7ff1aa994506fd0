-- lib/queue.lua — reads of the waiting queue shared by position.lua and snapshot.lua, prepended
-- to both at build time (matching/CMakeLists.txt: PRELUDE). Redis scripts cannot share
-- functions, so this is the one copy.
-- counts: matches in the per-minute statistics hashes rate:<minute> (claim.lua) inside the
-- window: comparable by language and tag, and by language. A match that shares two of the
-- request's languages (or tags) is counted under each, so each sum is capped by the next wider
-- count.
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
-- prune_request: a queue entry whose request hash expired leaves the queue and every
-- seeker-order index.
local function prune_request(prefix, queue, s)
  redis.call('ZREM', queue, s)
  for _, l in ipairs(redis.call('SMEMBERS', prefix .. 'qlangs')) do
    redis.call('ZREM', prefix .. 'qo:' .. l, s)
  end
end
