-- snapshot.lua — everything a matching pass needs, in one round trip and one consistent view:
-- the waiting requests (with the peers that blocked each), the shifts that are not off (with
-- presence, prekeys left and whether each is cooling down) and, when asked, the recent
-- matches for wait estimates.
-- It also prunes: a queue entry whose request hash expired (its seeker's instance stopped
-- refreshing it), and a peer whose presence lapsed with no conversation left (now off).
-- KEYS[1] queue   KEYS[2] peers (set)   KEYS[3] stats (zset)   KEYS[4] stats_since
-- ARGV: key prefix, with_stats (0/1), now ms, stats window ms, with_peers (0/1: without, only
-- what a queue position needs: no peers, no blocked sets)
-- Per-entity keys are built from the prefix: they share its hash tag, so one slot holds all.
-- Returns {requests, peers, stats, stats_since} where
--   request = {session, id, tags, langs, risk, at, first, {blocked peer ids}}
--   peer    = {id, shift, state, cap, active, tags, langs, wont, idle, end, alive, prekeys,
--              cooling (1 while cooldown:<peer> exists: the policy skips the peer, so a pass
--              does not plan claims the claim script would refuse)}
local prefix = ARGV[1]
local full = ARGV[5] ~= '0'
local requests = {}
for _, s in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HMGET', prefix .. 'req:' .. s, 'id', 'tags', 'langs', 'risk', 'at', 'first')
  if not r[1] then
    redis.call('ZREM', KEYS[1], s)
  else
    local blocked = {}
    if full then
      blocked = redis.call('SMEMBERS', prefix .. 'blocked:' .. s)
    end
    requests[#requests + 1] = {s, r[1], r[2] or '', r[3] or '', r[4] or '', r[5] or '0',
                               r[6] or '0', blocked}
  end
end
local peers = {}
local peer_ids = {}
-- With nobody waiting there is nothing to plan: the peers (four reads each, most of a pass's
-- Redis time with a thousand on shift) are left unread, and lapsed ones are pruned by the
-- next pass that has a request.
if full and #requests > 0 then
  peer_ids = redis.call('SMEMBERS', KEYS[2])
end
for _, p in ipairs(peer_ids) do
  local key = prefix .. 'peer:' .. p
  local h = redis.call('HMGET', key, 'shift', 'state', 'cap', 'active', 'tags', 'langs', 'wont',
                       'idle', 'end')
  local alive = redis.call('EXISTS', prefix .. 'alive:' .. p)
  if not h[2] then
    redis.call('SREM', KEYS[2], p)
  elseif h[2] == 'off' or (alive == 0 and tonumber(h[4] or '0') <= 0) then
    redis.call('HSET', key, 'state', 'off')
    redis.call('SREM', KEYS[2], p)
  else
    local n = redis.call('LLEN', prefix .. 'prekeys:' .. p)
    local cooling = redis.call('EXISTS', prefix .. 'cooldown:' .. p)
    peers[#peers + 1] = {p, h[1] or '', h[2], h[3] or '0', h[4] or '0', h[5] or '', h[6] or '',
                         h[7] or '', h[8] or '0', h[9] or '', alive, n, cooling}
  end
end
local stats = {}
local since = ''
if ARGV[2] == '1' then
  local cutoff = tonumber(ARGV[3]) - tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%d', cutoff))
  stats = redis.call('ZRANGE', KEYS[3], 0, -1)
  since = redis.call('GET', KEYS[4]) or ''
end
return {requests, peers, stats, since}
