-- audit_append.lua — the one audit append, hash-chained. Not a script of its own: its text is
-- prepended to every script that audits (account_store.cpp), so each change and its chained
-- entry stay one atomic script and the chain's order is Redis's execution order.
-- Canonical form (accounts/README.md, "Audit chain"): for seq, prev, actor, action, target,
-- at, detail in that order, <byte length> ':' <bytes> ';' concatenated; hash = SHA-1 hex.
-- SHA-1 because redis.sha1hex is the only digest inside Redis Lua; tamper evidence within our
-- own store needs no collision resistance against an attacker who can already write Redis.
-- The head (`<stream>:head`: hash, seq) is computed from the stream key here.
local function audit_append(stream, max_len, actor, action, target, at, detail)
  local head_key = stream .. ':head'
  local head = redis.call('HMGET', head_key, 'hash', 'seq')
  local prev = head[1] or string.rep('0', 40)
  local seq = tostring((tonumber(head[2]) or 0) + 1)
  local function f(v)
    v = tostring(v)
    return #v .. ':' .. v .. ';'
  end
  local hash = redis.sha1hex(f(seq) .. f(prev) .. f(actor) .. f(action) .. f(target) .. f(at)
                             .. f(detail))
  redis.call('XADD', stream, 'MAXLEN', '~', max_len, '*', 'seq', seq, 'prev', prev,
             'hash', hash, 'actor', actor, 'action', action, 'target', target, 'at', at,
             'detail', detail)
  redis.call('HSET', head_key, 'hash', hash, 'seq', seq)
  return hash
end
