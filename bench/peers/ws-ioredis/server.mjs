// server.mjs — the relay benchmark's Node peer: the subset of Kindred's wire protocol that
// `kindred-bench --scenario relay` uses, written the way a typical Node team would write it
// (npm `ws` + `ioredis`, async/await, JSON.parse per frame), so that the same C++ generator,
// with its real matching and real end-to-end encryption, drives it exactly as it drives
// kindred-server. Single process, single thread (Node's event loop).
//
// What it does, per frame:
//   hello (seeker, or peer with a login token) → ok {session, role, resume_token, conversations}
//   register_identity → HSET peer:<id> identity_key          prekeys → RPUSH peer:<id>:prekeys
//   shift_start → ok, `shift` on, then one slot per capacity: LPOP queue:seekers or RPUSH
//     queue:peers                                             (matching: two Redis lists)
//   request_match → ok, then LPOP queue:peers (a free peer slot) or RPUSH queue:seekers;
//     a match LPOPs one of the peer's prekeys, writes conv:<id>:meta, SUBSCRIBEs conv:<id>
//     and sends both sides `matched` with what their E2E needs (identity key, signed prekey,
//     the seeker's public key)
//   send → HINCRBY conv:<id>:meta last_offset (offsets 1, 2, 3, …), XADD conv:<id> <offset>-0
//     (store), ok {offset}, PUBLISH conv:<id> <json> (fan-out); the subscriber connection
//     hands each published message to the local sockets of that conversation, each getting
//     its own copy as a `message` event
//   sync → XRANGE conv:<id> from after+1, then ok {offset, recovered: true}
//   end → ok, `ended` to the conversation (through the same channel), the peer's slot freed
//   ping → pong
// Everything else: `unknown_type`.
//
// Simplifications, none of which is on the measured relay path (send → store → fan-out →
// deliver): a peer's login token is accepted as it is, without looking it up (the peer's id is
// a hash of it; Kindred checks the token in Redis at hello, once per connection; the Argon2id
// password check happens at login, before the benchmark connects); no resume (a resume_token
// hello is `not_found`, so a client starts afresh), no idempotent `seq` retries, no rate
// limits, no moderation, no crisis triage, no tag or language filtering in matching, no
// validation beyond what keeps the process up; one instance (sockets are found in local
// maps; only messages go through Redis pub/sub). Matching is a first version: a seeker and
// a peer that queue at the same instant can both wait (the benchmark starts every shift
// before the first request). Redis work per relayed message: HINCRBY + XADD + PUBLISH, three
// round trips, the same store-then-publish work Kindred does per message.
//
// Usage: node server.mjs --listen 127.0.0.1:PORT --redis /path/redis.sock|host:port
// Prints `listening <port>` on stdout once Redis answers and the socket listens (PORT 0 picks
// a free port). SIGTERM or SIGINT closes every socket and exits 0. Logs carry no message
// text, tokens or addresses.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';

import { logRedisErrors, parseArgs, parseListen, redisOptions, waitForRedis } from '../lib/common.mjs';

const usage = `Usage: node bench/peers/ws-ioredis/server.mjs --listen HOST:PORT --redis REDIS

  --listen HOST:PORT   where to listen (PORT 0: a free port, printed as "listening <port>")
  --redis REDIS        a unix socket path (or unix:/path) or host:port (or tcp://host:port)
`;

let args;
try {
  args = parseArgs(process.argv.slice(2), { listen: 'string', redis: 'string' });
  if (args.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  args.listenAt = parseListen(args.listen);
  args.redisAt = redisOptions(args.redis);
} catch (e) {
  process.stderr.write(`ws-ioredis: ${e.message}\n${usage}`);
  process.exit(2);
}

const redis = new Redis(args.redisAt); // commands
const sub = new Redis(args.redisAt); // subscriber: delivers published messages to local sockets
logRedisErrors('ws-ioredis', [redis, sub]);

const sockets = new Map(); // seeker session id or peer id → ws
const conversations = new Map(); // conversation id → Set of local ws in it

function send(ws, message) {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}
function ok(ws, id, body = {}) {
  if (id !== undefined) send(ws, { type: 'ok', re: id, ...body });
}
function fail(ws, id, code, message) {
  send(ws, id === undefined ? { type: 'error', code, message } : { type: 'error', re: id, code, message });
}

class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// ---- matching ---------------------------------------------------------------------------------

// The seeker's request waits in queue:seekers until a peer slot is free, and a free slot waits
// in queue:peers until a seeker asks: whichever comes second makes the match.
async function offerSeeker(seeker) {
  for (;;) {
    const peerId = await redis.lpop('queue:peers');
    if (!peerId) {
      const position = await redis.rpush('queue:seekers', JSON.stringify(seeker));
      const ws = sockets.get(seeker.session);
      if (ws) send(ws, { type: 'queued', position, estimated_wait_s: null });
      return;
    }
    if (await startConversation(seeker, peerId)) return;
  }
}

async function offerPeerSlot(peerId) {
  for (;;) {
    const text = await redis.lpop('queue:seekers');
    if (!text) {
      await redis.rpush('queue:peers', peerId);
      return;
    }
    if (await startConversation(JSON.parse(text), peerId)) return;
  }
}

// False when the peer cannot take it (gone, no prekey left): the caller tries the next one.
async function startConversation(seeker, peerId) {
  const peerWs = sockets.get(peerId);
  if (!peerWs) return false;
  const seekerWs = sockets.get(seeker.session);
  if (!seekerWs) {
    await redis.rpush('queue:peers', peerId); // the seeker left: the slot stays free
    return true;
  }
  const prekeyText = await redis.lpop(`peer:${peerId}:prekeys`);
  if (!prekeyText) return false;
  const prekey = JSON.parse(prekeyText);
  const peer = await redis.hgetall(`peer:${peerId}`);
  const peerTags = JSON.parse(peer.tags ?? '[]');
  const sharedTags = seeker.tags.filter((t) => peerTags.includes(t));

  const id = randomUUID();
  await redis.hset(`conv:${id}:meta`, {
    state: 'active',
    seeker: seeker.session,
    peer: peerId,
    last_offset: 0,
    created_at: Date.now(),
  });
  await sub.subscribe(`conv:${id}`); // before anyone can send into it
  conversations.set(id, new Set([seekerWs, peerWs]));
  seekerWs.session.conversations.set(id, 'seeker');
  peerWs.session.conversations.set(id, 'peer');
  peerWs.session.active += 1;

  send(seekerWs, {
    type: 'matched',
    conversation_id: id,
    relaxed: false,
    peer: {
      alias: peer.alias ?? 'Peer',
      tags: peerTags,
      shared_tags: sharedTags,
      prekey: prekey.prekey,
      identity_key: peer.identity_key,
      signature: prekey.signature,
    },
  });
  send(peerWs, {
    type: 'matched',
    conversation_id: id,
    prekey: prekey.prekey,
    seeker: {
      pubkey: seeker.pubkey,
      tags: seeker.tags,
      shared_tags: sharedTags,
      waited_s: Math.floor((Date.now() - seeker.at) / 1000),
      risk: 'none',
    },
  });
  send(peerWs, {
    type: 'shift',
    state: 'on',
    active: peerWs.session.active,
    capacity: peerWs.session.capacity,
  });
  return true;
}

// ---- requests ---------------------------------------------------------------------------------

function conversationOf(ws, msg) {
  const role = ws.session.conversations.get(msg.conversation_id);
  if (!role) throw new RequestError('not_found', 'conversation_id: no such conversation');
  return role;
}

const handlers = {
  ping(ws) {
    send(ws, { type: 'pong' });
  },

  async register_identity(ws, msg) {
    if (ws.session.role !== 'peer') throw new RequestError('forbidden', 'peers only');
    if (typeof msg.identity_key !== 'string') throw new RequestError('bad_message', 'identity_key: required');
    await redis.hset(`peer:${ws.session.id}`, 'identity_key', msg.identity_key);
    ok(ws, msg.id);
  },

  async prekeys(ws, msg) {
    if (ws.session.role !== 'peer') throw new RequestError('forbidden', 'peers only');
    if (!Array.isArray(msg.keys) || msg.keys.length === 0) throw new RequestError('bad_message', 'keys: required');
    await redis.rpush(
      `peer:${ws.session.id}:prekeys`,
      ...msg.keys.map((k) => JSON.stringify({ prekey: k.prekey, signature: k.signature })),
    );
    ok(ws, msg.id);
  },

  async shift_start(ws, msg) {
    if (ws.session.role !== 'peer') throw new RequestError('forbidden', 'peers only');
    const capacity = Number.isInteger(msg.capacity) ? msg.capacity : 1;
    ws.session.capacity = capacity;
    await redis.hset(`peer:${ws.session.id}`, {
      alias: 'Peer',
      capacity,
      tags: JSON.stringify(msg.tags ?? []),
      languages: JSON.stringify(msg.languages ?? []),
    });
    ok(ws, msg.id);
    send(ws, { type: 'shift', state: 'on', active: ws.session.active, capacity });
    for (let i = ws.session.active; i < capacity; i++) await offerPeerSlot(ws.session.id);
  },

  async request_match(ws, msg) {
    if (ws.session.role !== 'seeker') throw new RequestError('forbidden', 'seekers only');
    if (typeof msg.pubkey !== 'string') throw new RequestError('bad_message', 'pubkey: required');
    ok(ws, msg.id);
    await offerSeeker({
      session: ws.session.id,
      pubkey: msg.pubkey,
      tags: Array.isArray(msg.tags) ? msg.tags : [],
      languages: Array.isArray(msg.languages) ? msg.languages : [],
      at: Date.now(),
    });
  },

  async send(ws, msg) {
    const role = conversationOf(ws, msg);
    const to = role === 'seeker' ? 'peer' : 'seeker';
    const copy = Array.isArray(msg.copies) ? msg.copies.find((c) => c && c.to === to) : undefined;
    if (!copy || typeof copy.nonce !== 'string' || typeof copy.ciphertext !== 'string') {
      throw new RequestError('bad_message', `copies: one copy for ${to} is required`);
    }
    const id = msg.conversation_id;
    const offset = await redis.hincrby(`conv:${id}:meta`, 'last_offset', 1);
    const sentAt = Date.now();
    await redis.xadd(`conv:${id}`, `${offset}-0`, 'from', role, 'seq', String(msg.seq),
      'sent_at', String(sentAt), 'to', to, 'nonce', copy.nonce, 'ciphertext', copy.ciphertext);
    ok(ws, msg.id, { offset });
    await redis.publish(`conv:${id}`, JSON.stringify({
      type: 'message', offset, from: role, to, seq: msg.seq, sent_at: sentAt,
      nonce: copy.nonce, ciphertext: copy.ciphertext,
    }));
  },

  async sync(ws, msg) {
    const role = conversationOf(ws, msg);
    const id = msg.conversation_id;
    const after = Number.isInteger(msg.after) && msg.after >= 0 ? msg.after : 0;
    const entries = await redis.xrange(`conv:${id}`, `${after + 1}-0`, '+');
    for (const [entryId, list] of entries) {
      const f = {};
      for (let i = 0; i < list.length; i += 2) f[list[i]] = list[i + 1];
      if (f.to !== role) continue; // our own messages: the client knows them from `ok`
      send(ws, {
        type: 'message', conversation_id: id, offset: Number(entryId.split('-')[0]), from: f.from,
        seq: Number(f.seq), nonce: f.nonce, ciphertext: f.ciphertext, sent_at: Number(f.sent_at),
      });
    }
    const last = Number(await redis.hget(`conv:${id}:meta`, 'last_offset'));
    ok(ws, msg.id, { offset: last, recovered: true });
  },

  async end(ws, msg) {
    const role = conversationOf(ws, msg);
    const id = msg.conversation_id;
    const meta = await redis.hgetall(`conv:${id}:meta`);
    await redis.hset(`conv:${id}:meta`, 'state', 'ended');
    ok(ws, msg.id);
    await redis.publish(`conv:${id}`, JSON.stringify({
      type: 'ended', by: role, reason: typeof msg.reason === 'string' ? msg.reason : 'done',
    }));
    const peerWs = sockets.get(meta.peer);
    if (peerWs) {
      peerWs.session.active = Math.max(0, peerWs.session.active - 1);
      send(peerWs, { type: 'shift', state: 'on', active: peerWs.session.active, capacity: peerWs.session.capacity });
      await offerPeerSlot(meta.peer);
    }
  },
};

// The subscriber: one published message → the local sockets of that conversation.
sub.on('message', (channel, text) => {
  const id = channel.slice('conv:'.length);
  const members = conversations.get(id);
  if (!members) return;
  const m = JSON.parse(text);
  if (m.type === 'ended') {
    for (const ws of members) {
      ws.session.conversations.delete(id);
      send(ws, { type: 'ended', conversation_id: id, by: m.by, reason: m.reason });
    }
    conversations.delete(id);
    sub.unsubscribe(channel).catch(() => {});
    return;
  }
  for (const ws of members) {
    if (ws.session.conversations.get(id) !== m.to) continue; // each recipient, its own copy
    send(ws, {
      type: 'message', conversation_id: id, offset: m.offset, from: m.from, seq: m.seq,
      nonce: m.nonce, ciphertext: m.ciphertext, sent_at: m.sent_at,
    });
  }
});

// ---- connections ------------------------------------------------------------------------------

function hello(ws, msg) {
  if (msg.v !== 1) return fail(ws, msg.id, 'bad_message', 'v: unsupported version; this server speaks version 1');
  if (msg.resume_token !== undefined) return fail(ws, msg.id, 'not_found', 'resume is not supported here');
  let id;
  if (msg.role === 'seeker') {
    id = randomUUID();
  } else if (msg.role === 'peer') {
    if (typeof msg.token !== 'string' || msg.token === '') return fail(ws, msg.id, 'bad_message', 'token: required');
    id = 'p' + createHash('sha256').update(msg.token).digest('hex').slice(0, 24);
  } else {
    return fail(ws, msg.id, 'forbidden', 'role: seeker or peer only');
  }
  ws.session = { id, role: msg.role, conversations: new Map(), active: 0, capacity: 0 };
  sockets.set(id, ws);
  ok(ws, msg.id, {
    session: id,
    role: msg.role,
    resume_token: randomBytes(24).toString('base64url'),
    conversations: [],
  });
}

async function onFrame(ws, data, isBinary) {
  if (isBinary) return ws.close(1003, 'text frames only');
  let msg;
  try {
    msg = JSON.parse(data.toString());
  } catch {
    return fail(ws, undefined, 'bad_json', 'not JSON');
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    return fail(ws, undefined, 'bad_json', 'not a JSON object');
  }
  if (!ws.session) {
    if (msg.type === 'hello') return hello(ws, msg);
    fail(ws, msg.id, 'not_authenticated', 'hello first');
    return ws.close(1008, 'hello first');
  }
  const handler = handlers[msg.type];
  if (!handler) return fail(ws, msg.id, 'unknown_type', `type: unknown`);
  try {
    await handler(ws, msg);
  } catch (e) {
    if (e instanceof RequestError) fail(ws, msg.id, e.code, e.message);
    else fail(ws, msg.id, 'unavailable', 'try again');
  }
}

function onClose(ws) {
  if (!ws.session) return;
  if (sockets.get(ws.session.id) === ws) sockets.delete(ws.session.id);
  for (const id of ws.session.conversations.keys()) conversations.get(id)?.delete(ws);
}

async function main() {
  try {
    await waitForRedis([redis, sub]);
  } catch (e) {
    console.error(`ws-ioredis: cannot reach Redis: ${e.message}`);
    process.exit(3);
  }
  const wss = new WebSocketServer({ host: args.listenAt.host, port: args.listenAt.port, maxPayload: 65536 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => onFrame(ws, data, isBinary));
    ws.on('close', () => onClose(ws));
    ws.on('error', () => {});
  });
  wss.on('error', (e) => {
    console.error(`ws-ioredis: ${e.message}`);
    process.exit(3);
  });
  wss.on('listening', () => process.stdout.write(`listening ${wss.address().port}\n`));

  const stop = () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    Promise.allSettled([redis.quit(), sub.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
