-- snapshot.lua — everything a matching pass needs, in one round trip and one consistent view:
-- the waiting requests (with the peers that blocked each, and the wait-estimate counts of each),
-- and the candidate peers for them (with presence, prekeys left and whether each is cooling
-- down). Its cost is bounded by the waiting requests, not by the peers on shift: candidates
-- come from the free-slot zsets pf:<language>|<tag> (and pf:<language> for a request whose
-- relax time has passed), least loaded first, each read until it has given as many usable
-- peers (present, a prekey, not cooling, outside the end window) as requests want it, plus a
-- few spare for the per-request rules (blocks, won't-take).
-- It also prunes: a queue entry whose request hash expired (its seeker's instance stopped
-- refreshing it), and a candidate whose presence lapsed with no conversation left (now off).
-- KEYS[1] queue   KEYS[2] peers (set)   KEYS[3] (unused, kept for the key layout)
-- KEYS[4] stats_since
-- ARGV: key prefix, with_stats (0/1), now ms, stats window ms, with_peers (0/1: without, only
-- what a queue position needs: no peers, no blocked sets), relax_after ms, end window ms
-- Per-entity keys are built from the prefix: they share its hash tag, so one slot holds all.
-- Returns {requests, peers, {}, stats_since} where
--   request = {session, id, tags, langs, risk, at, first, {blocked peer ids}
--              [, matches by tag, matches by language (with_stats)]}
--   peer    = {id, shift, state, cap, active, tags, langs, wont, idle, end, alive, prekeys,
--              cooling (1 while cooldown:<peer> exists: the policy skips the peer, so a pass
--              does not plan claims the claim script would refuse)}
-- counts, prune_request: lib/queue.lua, prepended at build time.
-- index_peer, free_score: lib/free_slots.lua, prepended at build time.
local prefix = ARGV[1]
local full = ARGV[5] ~= '0'
local now = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local relax_after = tonumber(ARGV[6] or '60000')
local end_window = tonumber(ARGV[7] or '0')
local with_stats = ARGV[2] == '1'
local requests = {}
local want = {} -- free-slot zset -> usable candidates wanted from it
local extra = {} -- free-slot zset -> the most peers one of its requests has blocked
local rates = {}
for _, s in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HMGET', prefix .. 'req:' .. s, 'id', 'tags', 'langs', 'risk', 'at', 'first')
  if not r[1] then
    prune_request(prefix, KEYS[1], s)
  else
    local blocked = {}
    local tags, langs, at = r[2] or '', r[3] or '', r[5] or '0'
    if full then
      blocked = redis.call('SMEMBERS', prefix .. 'blocked:' .. s)
      local relaxed = now >= (tonumber(at) or 0) + relax_after
      for l in string.gmatch(langs, '[^,]+') do
        for t in string.gmatch(tags, '[^,]+') do
          local k = prefix .. 'pf:' .. l .. '|' .. t
          want[k] = (want[k] or 0) + 1
          extra[k] = math.max(extra[k] or 0, #blocked)
        end
        if relaxed then
          local k = prefix .. 'pf:' .. l
          want[k] = (want[k] or 0) + 1
          extra[k] = math.max(extra[k] or 0, #blocked)
        end
      end
    end
    local e = {s, r[1], tags, langs, r[4] or '', at, r[6] or '0', blocked}
    if with_stats then
      local key = langs .. '#' .. tags
      if not rates[key] then
        local bt, bl = counts(prefix, now, window, langs, tags)
        rates[key] = {bt, bl}
      end
      e[9] = rates[key][1]
      e[10] = rates[key][2]
    end
    requests[#requests + 1] = e
  end
end
local peers = {}
local seen = {} -- peer id -> true when usable, false when read and not usable
for k, n in pairs(want) do
  -- Spare candidates for the per-request rules: 4, plus as many as a request blocked.
  local spare = 4 + (extra[k] or 0)
  local usable, offset, budget = 0, 0, 4 * (n + spare) + 64
  while usable < n + spare and offset < budget do
    local ids = redis.call('ZRANGE', k, offset, offset + math.max(n + spare - usable, 8) - 1)
    if #ids == 0 then
      break
    end
    offset = offset + #ids
    for _, p in ipairs(ids) do
      local ok = seen[p]
      if ok == nil then
        ok = false
        local key = prefix .. 'peer:' .. p
        local h = redis.call('HMGET', key, 'shift', 'state', 'cap', 'active', 'tags', 'langs',
                             'wont', 'idle', 'end')
        local alive = redis.call('EXISTS', prefix .. 'alive:' .. p)
        if not h[2] then
          redis.call('ZREM', k, p)
          redis.call('SREM', KEYS[2], p)
        elseif h[2] == 'off' or (alive == 0 and tonumber(h[4] or '0') <= 0) then
          redis.call('HSET', key, 'state', 'off')
          redis.call('SREM', KEYS[2], p)
          index_peer(prefix, p, h[6], h[5], nil)
        else
          local nk = redis.call('LLEN', prefix .. 'prekeys:' .. p)
          local cooling = redis.call('EXISTS', prefix .. 'cooldown:' .. p)
          local ending = h[9] and h[9] ~= '' and now >= tonumber(h[9]) - end_window
          ok = alive == 1 and nk > 0 and cooling == 0 and not ending
          peers[#peers + 1] = {p, h[1] or '', h[2], h[3] or '0', h[4] or '0', h[5] or '',
                               h[6] or '', h[7] or '', h[8] or '0', h[9] or '', alive, nk, cooling}
        end
        seen[p] = ok
      end
      if ok then
        usable = usable + 1
        if usable >= n + spare then
          break
        end
      end
    end
  end
end
local since = ''
if with_stats then
  since = redis.call('GET', KEYS[4]) or ''
end
return {requests, peers, {}, since}
