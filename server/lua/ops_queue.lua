-- ops_queue.lua — read-only: the waiting requests counted by tag and language, and the peers
-- on shift by tag, for `kindredctl status` and the queue gauges. Touches only the matching
-- store's keys (one hash tag). O(waiting + peers): run on a timer, never per request.
-- KEYS[1] <matching prefix>queue, KEYS[2] <matching prefix>peers
-- ARGV: matching prefix, now_ms
-- Returns a JSON text: {"waiting":N, "queues":[[tag, lang, count, oldest_enqueued_ms],...],
--   "shifts":[[tag, on, paused, free_slots],...]}
local prefix = ARGV[1]
local function split(s)
  local out = {}
  for part in string.gmatch(s or '', '[^,]+') do out[#out + 1] = part end
  return out
end

local queues, order = {}, {}
local waiting = 0
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local h = redis.call('HMGET', prefix .. 'req:' .. members[i], 'tags', 'langs')
  -- A request whose hash expired is still in the zset until the next snapshot prunes it.
  if h[1] then
    waiting = waiting + 1
    local at = tonumber(members[i + 1]) or 0
    for _, t in ipairs(split(h[1])) do
      for _, l in ipairs(split(h[2])) do
        local k = t .. '\0' .. l
        local q = queues[k]
        if not q then
          q = {t, l, 0, at}
          queues[k] = q
          order[#order + 1] = k
        end
        q[3] = q[3] + 1
        if at < q[4] then q[4] = at end
      end
    end
  end
end
local qlist = {}
for _, k in ipairs(order) do qlist[#qlist + 1] = queues[k] end

local shifts, sorder = {}, {}
for _, p in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local h = redis.call('HMGET', prefix .. 'peer:' .. p, 'state', 'cap', 'active', 'tags')
  local alive = redis.call('EXISTS', prefix .. 'alive:' .. p)
  if alive == 1 and (h[1] == 'on' or h[1] == 'paused') then
    local free = (tonumber(h[2]) or 0) - (tonumber(h[3]) or 0)
    if free < 0 or h[1] ~= 'on' then free = 0 end
    for _, t in ipairs(split(h[4])) do
      local s = shifts[t]
      if not s then
        s = {t, 0, 0, 0}
        shifts[t] = s
        sorder[#sorder + 1] = t
      end
      if h[1] == 'on' then s[2] = s[2] + 1 else s[3] = s[3] + 1 end
      s[4] = s[4] + free
    end
  end
end
local slist = {}
for _, t in ipairs(sorder) do slist[#slist + 1] = shifts[t] end
-- cjson writes an empty table as {}; the reader accepts both.
return cjson.encode({waiting = waiting, queues = qlist, shifts = slist})
