// connection.test.mjs — KindredConnection against a scripted in-memory server (no network).
import test from 'node:test';
import assert from 'node:assert/strict';
import { KindredConnection, deviceId } from '../../lib/connection.js';

class MemStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

// A tiny server: stores sends by (conv, seq) like the real one, answers sync from its log.
function makeServer() {
  const srv = { sockets: [], log: [], bySeq: new Map(), hellos: [], syncs: [], recovered: true, session: 0 };
  srv.FakeWS = class {
    constructor(url) {
      this.url = url; this.readyState = 0; srv.sockets.push(this);
      setTimeout(() => { if (this.readyState === 0) { this.readyState = 1; this.onopen?.(); } }, 1);
    }
    send(text) {
      const f = JSON.parse(text);
      const reply = (o) => setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: JSON.stringify(o) }), 1);
      if (f.type === 'hello') {
        srv.hellos.push(f);
        if (f.resume_token && f.resume_token !== srv.token) return reply({ type: 'error', re: f.id, code: 'not_found', message: 'session expired' });
        if (!f.resume_token) srv.token = `tok${++srv.session}`;
        return reply({ type: 'ok', re: f.id, session: 's', role: 'seeker', resume_token: srv.token, conversations: [{ conversation_id: 'c1', state: 'active', last_offset: srv.log.length }] });
      }
      if (f.type === 'send') {
        const k = `${f.conversation_id}|${f.seq}`;
        if (!srv.bySeq.has(k)) { srv.log.push({ from: 'seeker', seq: f.seq }); srv.bySeq.set(k, srv.log.length); }
        if (srv.dropNextSendAnswer) { srv.dropNextSendAnswer = false; return this.serverClose(1006); }
        return reply({ type: 'ok', re: f.id, offset: srv.bySeq.get(k) });
      }
      if (f.type === 'sync') {
        srv.syncs.push(f.after);
        srv.log.forEach((m, i) => { if (i + 1 > f.after && m.from !== 'seeker') reply({ type: 'message', conversation_id: f.conversation_id, offset: i + 1, from: m.from, seq: m.seq, nonce: '', ciphertext: '' }); });
        return reply({ type: 'ok', re: f.id, offset: srv.log.length, recovered: srv.recovered });
      }
      if (f.id) reply({ type: 'ok', re: f.id });
    }
    close() { this.serverClose(1000); }
    serverClose(code) { if (this.readyState === 3) return; this.readyState = 3; setTimeout(() => this.onclose?.({ code, reason: '' }), 1); }
  };
  srv.peerWrites = (seq) => { srv.log.push({ from: 'peer', seq }); return srv.log.length; };
  return srv;
}

const until = async (cond, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) throw new Error('timeout'); await new Promise((r) => setTimeout(r, 5)); }
};

test('device id is 32 random bytes, created once', () => {
  const s = new MemStorage();
  const d = deviceId(s);
  assert.equal(Buffer.from(d, 'base64').length, 32);
  assert.equal(deviceId(s), d);
});

test('hello, resume after a drop, outbox resend with the same seq, sync after the cursor', async () => {
  const srv = makeServer();
  const session = new MemStorage();
  const local = new MemStorage();
  const conn = new KindredConnection({ role: 'seeker', url: 'ws://x/v1/ws', session, local, WebSocket: srv.FakeWS, random: () => 0 });
  const states = []; const frames = []; const acks = [];
  conn.addEventListener('state', (e) => states.push(e.detail.state));
  conn.addEventListener('frame', (e) => frames.push(e.detail));
  conn.addEventListener('ack', (e) => acks.push(e.detail));
  conn.connect();
  await until(() => conn.state === 'online');
  assert.equal(srv.hellos[0].role, 'seeker');
  assert.equal(srv.hellos[0].device, local.getItem('kindred.device'));
  conn.follow('c1', 0);

  const ok1 = await conn.sendMessage({ conversation_id: 'c1', seq: 1, copies: [{ to: 'peer', nonce: 'n', ciphertext: 'c' }] });
  assert.equal(ok1.offset, 1);
  srv.peerWrites(1); // offset 2, never delivered live (we were "offline")

  // The answer to seq 2 is lost with the connection: it stays in the outbox and is re-sent.
  srv.dropNextSendAnswer = true;
  const p2 = conn.sendMessage({ conversation_id: 'c1', seq: 2, copies: [{ to: 'peer', nonce: 'n', ciphertext: 'c' }] });
  assert.equal(JSON.parse(session.getItem('kindred.outbox')).length, 1);
  const ok2 = await p2;
  assert.equal(ok2.offset, 3, 'the server de-duplicated by seq');
  assert.equal(srv.log.length, 3);
  assert.equal(srv.hellos.at(-1).resume_token, 'tok1');
  assert.ok(states.includes('reconnecting'));
  assert.deepEqual(JSON.parse(session.getItem('kindred.outbox')), []);
  await until(() => frames.some((f) => f.type === 'message' && f.offset === 2));
  assert.deepEqual(srv.syncs.slice(0, 2), [0, 1], 'synced after the cursor each time');
  assert.deepEqual(acks.map((a) => a.offset), [1, 3]);
  conn.close();
});

test('a reload: outbox and resume token survive in sessionStorage', async () => {
  const srv = makeServer();
  const session = new MemStorage();
  const a = new KindredConnection({ role: 'seeker', url: 'ws://x', session, local: new MemStorage(), WebSocket: srv.FakeWS });
  // Queued while never connected (a send typed in a tunnel), then the tab reloads.
  a.sendMessage({ conversation_id: 'c1', seq: 1, copies: [] }).catch(() => {});
  const b = new KindredConnection({ role: 'seeker', url: 'ws://x', session, local: new MemStorage(), WebSocket: srv.FakeWS });
  const acks = [];
  b.addEventListener('ack', (e) => acks.push(e.detail));
  b.connect();
  await until(() => acks.length === 1);
  assert.deepEqual(acks[0], { conversation_id: 'c1', seq: 1, offset: 1 });
  b.close();
});

test('recovered:false is reported; an expired session starts afresh', async () => {
  const srv = makeServer();
  srv.recovered = false;
  const session = new MemStorage();
  session.setItem('kindred.resume.seeker', 'stale');
  const conn = new KindredConnection({ role: 'seeker', url: 'ws://x', session, local: new MemStorage(), WebSocket: srv.FakeWS });
  const seen = [];
  conn.addEventListener('recovered', (e) => seen.push(['recovered', e.detail]));
  conn.addEventListener('expired', () => seen.push(['expired']));
  conn.connect();
  await until(() => seen.some((s) => s[0] === 'recovered'));
  assert.deepEqual(seen[0], ['expired']);
  assert.deepEqual(seen[1], ['recovered', { conversation_id: 'c1', recovered: false }]);
  assert.equal(srv.hellos[1].role, 'seeker');
  conn.close();
});

test('backoff: full jitter under an exponential cap (0.5 s → 30 s)', () => {
  const conn = new KindredConnection({ role: 'seeker', url: 'ws://x', session: new MemStorage(), local: new MemStorage(), WebSocket: class {}, random: () => 0.999 });
  const delays = [];
  const realSet = globalThis.setTimeout;
  globalThis.setTimeout = (fn, ms) => { delays.push(ms); return 0; };
  try {
    conn.stopped = false;
    for (let i = 0; i < 10; i++) conn._scheduleReconnect();
  } finally { globalThis.setTimeout = realSet; }
  assert.deepEqual(delays.map((d) => Math.round(d / 100) * 100), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
});

test('a send refused with unavailable again and again backs off with jitter; rate_limited waits as told', () => {
  let r = 0.0;
  const conn = new KindredConnection({ role: 'seeker', url: 'ws://x', session: new MemStorage(), local: new MemStorage(), WebSocket: class {}, random: () => r });
  const unavailable = { code: 'unavailable', retryAfterMs: undefined };
  // random() = 0 gives the lower edge (half the nominal delay), 0.999 nearly 1.5 times it.
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => conn._sendRetryDelay(unavailable)), [1000, 2000, 4000, 8000, 8000, 8000]);
  conn.sendRefusals = 0;
  r = 0.999;
  assert.deepEqual([1, 2].map(() => conn._sendRetryDelay(unavailable)), [2998, 5996]);
  assert.equal(conn._sendRetryDelay({ code: 'rate_limited', retryAfterMs: 700 }), 700);
});
