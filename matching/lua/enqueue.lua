-- enqueue.lua — a seeker's request joins the queue, unless it is already queued or in a
-- conversation. Intake text never reaches Redis: only the risk level the server triaged.
-- KEYS[1] queue (zset session -> enqueued_at)   KEYS[2] req:{S} (hash)
-- KEYS[3] seeker:{S} (conversation in progress)  KEYS[4] seq (id counter)
-- ARGV: session, tags (comma-joined), languages (comma-joined), risk, enqueued_at ms,
--       first (0/1), payload, ttl_ms (the request lives this long unless refreshed), key prefix
-- Also indexes the request in qo:<language> for each of its languages (a zset scored in
-- seeker order, so a queue position is a ZRANK, not a read of the queue; see position.lua).
-- Returns {'ok', request_id} or {'fail', 'already_queued' | 'in_conversation'}.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'fail', 'already_queued'}
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'fail', 'in_conversation'}
end
local id = tostring(redis.call('INCR', KEYS[4]))
redis.call('HSET', KEYS[2], 'id', id, 'tags', ARGV[2], 'langs', ARGV[3], 'risk', ARGV[4],
           'at', ARGV[5], 'first', ARGV[6], 'payload', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
-- Seeker order as one number: risk class (imminent first), re-queued first, then enqueue time
-- (ms, < 2^42); ties fall to the member (the session), as seeker_before breaks them.
local levels = {none = 4, low = 3, medium = 2, high = 1, imminent = 0}
local class = (levels[ARGV[4]] or 4) * 2 + (ARGV[6] == '1' and 0 or 1)
local score = string.format('%.0f', class * 4398046511104 + tonumber(ARGV[5]))
for l in string.gmatch(ARGV[3], '[^,]+') do
  redis.call('ZADD', ARGV[9] .. 'qo:' .. l, score, ARGV[1])
  redis.call('SADD', ARGV[9] .. 'qlangs', l)
end
return {'ok', id}
