-- refresh.lua — presence: an instance keeps alive the peers and the waiting requests of the
-- sessions it holds. What a killed instance held lapses by TTL: its peers drop out of
-- matching, its seekers' requests leave the queue (the snapshot prunes them).
-- KEYS[1] peers (set; declared so that a cluster routes the script to the matching slot —
-- the per-entity keys come from the prefix and share its hash tag)
-- ARGV: key prefix, peer ttl ms, request ttl ms, number of peers N, N peer ids, then sessions
-- Returns {peers refreshed, requests refreshed}. A peer whose shift is off is not revived.
local prefix = ARGV[1]
local n = tonumber(ARGV[4])
local peers, requests = 0, 0
for i = 5, 4 + n do
  local p = ARGV[i]
  local state = redis.call('HGET', prefix .. 'peer:' .. p, 'state')
  if state and state ~= 'off' then
    redis.call('SET', prefix .. 'alive:' .. p, '1', 'PX', ARGV[2])
    peers = peers + 1
  end
end
for i = 5 + n, #ARGV do
  requests = requests + redis.call('PEXPIRE', prefix .. 'req:' .. ARGV[i], ARGV[3])
end
return {peers, requests}
