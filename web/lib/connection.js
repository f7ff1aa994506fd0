// connection.js — one resilient WebSocket session to /v1/ws: hello/resume, backoff, sync, outbox.
//
// Usage:
//   const conn = new KindredConnection({ role: 'seeker' });           // or {role:'peer', token}
//   conn.addEventListener('frame', (e) => handle(e.detail));           // every server event
//   conn.addEventListener('state', (e) => show(e.detail.state));       // connecting|online|reconnecting|offline
//   conn.connect();
//   const ok = await conn.request({ type: 'request_match', ... });     // ok frame, or throws RequestError
//   const ok = await conn.sendMessage({ conversation_id, seq, copies }); // outbox: survives drops and reloads
//
// Events (CustomEvent, payload in .detail):
//   state      {state, previous}
//   frame      the server event object (message, matched, queued, ended, receipt, typing, …)
//   session    the hello ok {session, role, resume_token, conversations, resumed}
//   recovered  {conversation_id, recovered:false} — a sync could not vouch for complete history
//   ack        {conversation_id, seq, offset} — an outbox send was stored (also after a reload)
//   send-failed {conversation_id, seq, code, message} — the server refused a send for good
//   expired    {} — the resume token was no longer known: a fresh session was started
//   closed     {code, reason, final} — final: no reconnect (taken over 4001, login dead 4003,
//              banned 4005 / forbidden, or close() called)
// Nothing here logs frames: they may carry intake text or ciphertext.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
const GAP_SYNC_DELAY_MS = 1500;
const DEVICE_KEY = 'kindred.device';
const OUTBOX_KEY = 'kindred.outbox';

/** The server answered a request with an error (or the connection dropped before it answered). */
export class RequestError extends Error {
  constructor(code, message, frame) {
    super(message || code);
    this.name = 'RequestError';
    this.code = code;
    this.retryAfterMs = frame?.retry_after_ms;
    this.frame = frame;
  }
}

function randomBase64(n) {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** The seeker's device id: 32 random bytes, base64, created once and kept (blocks/bans use its hash). */
export function deviceId(storage = globalThis.localStorage) {
  try {
    let d = storage?.getItem(DEVICE_KEY);
    if (!d || !/^[A-Za-z0-9+/]{43}=$/.test(d)) {
      d = randomBase64(32);
      storage?.setItem(DEVICE_KEY, d);
    }
    return d;
  } catch {
    return null; // storage blocked: the server then applies blocks to the session only
  }
}

function defaultUrl() {
  const loc = globalThis.location;
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/v1/ws`;
}

export class KindredConnection extends EventTarget {
  /**
   * @param {object} o
   * @param {'seeker'|'peer'|'moderator'} o.role
   * @param {string} [o.token]      staff login token (peer/moderator)
   * @param {string} [o.url]        default ws(s)://<this host>/v1/ws
   * @param {Storage} [o.session]   default sessionStorage (resume token, outbox, offsets)
   * @param {Storage} [o.local]     default localStorage (device id)
   * @param {Function} [o.WebSocket] for tests
   * @param {string} [o.prefix]     storage key prefix, default 'kindred.' (+ role for the resume token)
   */
  constructor({ role, token, url, session, local, WebSocket: WS, random, prefix } = {}) {
    super();
    this.role = role;
    this.token = token ?? null;
    this.url = url ?? null;
    this.session = session ?? globalThis.sessionStorage ?? null;
    this.local = local ?? globalThis.localStorage ?? null;
    this.WS = WS ?? globalThis.WebSocket;
    this.random = random ?? Math.random;
    this.resumeKey = `${prefix ?? 'kindred.'}resume.${role}`;
    this.offsetsKey = `${prefix ?? 'kindred.'}offsets.${role}`;
    this.outboxKey = prefix ? `${prefix}outbox` : OUTBOX_KEY;
    this.state = 'offline';
    this.ws = null;
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject}
    this.waiters = []; // resolve functions waiting for 'online'
    this.stopped = true;
    this._fatal = false;
    this.timers = { reconnect: null, ping: null, pong: null };
    this.cursors = this._load(this.offsetsKey, {}); // conversation → {after, seen:[offsets above after]}
    this.gapTimers = new Map();
    this.outbox = this._load(this.outboxKey, []); // [{conversation_id, seq, copies}]
    this.outboxWaiters = new Map(); // "conv|seq" → [{resolve, reject}]
    this.inflight = new Set(); // "conv|seq" sent on the current socket, answer not yet in
    this.sendRefusals = 0; // sends refused with unavailable in a row: the retry backoff's exponent
    this._onOnline = () => { if (!this.stopped && this.state !== 'online') this._reconnectNow(); };
    this._onOffline = () => { if (this.ws) this._drop('browser offline'); };
  }

  /**
   * How long to wait before resending after a refused send. rate_limited names its own wait;
   * unavailable again and again backs off exponentially (up to 16 s) with jitter, so that
   * thousands of phones refused at once by a shedding server do not all come back together.
   */
  _sendRetryDelay(err) {
    const first = err.retryAfterMs ?? 2000;
    if (err.code === 'rate_limited') return first;
    this.sendRefusals = Math.min(this.sendRefusals + 1, 16);
    const nominal = Math.min(first * 2 ** (this.sendRefusals - 1), 16000);
    return Math.floor(nominal * (0.5 + this.random()));
  }

  // ---- storage ----
  _load(key, fallback) {
    try {
      const v = this.session?.getItem(key);
      return v ? JSON.parse(v) : fallback;
    } catch {
      return fallback;
    }
  }
  _save(key, value) {
    try { this.session?.setItem(key, JSON.stringify(value)); } catch { /* quota or blocked */ }
  }
  get resumeToken() {
    try { return this.session?.getItem(this.resumeKey) ?? null; } catch { return null; }
  }
  set resumeToken(v) {
    try {
      if (v) this.session?.setItem(this.resumeKey, v); else this.session?.removeItem(this.resumeKey);
    } catch { /* blocked */ }
  }

  // ---- lifecycle ----
  connect() {
    this.stopped = false;
    this._fatal = false;
    globalThis.addEventListener?.('online', this._onOnline);
    globalThis.addEventListener?.('offline', this._onOffline);
    if (!this.ws) this._open();
  }

  /** Stops for good (logout, quick exit). `forget` also drops the resume token and outbox. */
  close({ forget = false } = {}) {
    this.stopped = true;
    globalThis.removeEventListener?.('online', this._onOnline);
    globalThis.removeEventListener?.('offline', this._onOffline);
    this._clearTimers();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try { ws.close(1000, 'bye'); } catch { /* already closed */ }
    }
    this._failPending('closed');
    if (forget) {
      this.resumeToken = null;
      this.outbox = [];
      this.cursors = {};
      try {
        this.session?.removeItem(this.outboxKey);
        this.session?.removeItem(this.offsetsKey);
      } catch { /* blocked */ }
    }
    this._setState('offline');
    this._emit('closed', { code: 1000, reason: 'closed', final: true });
  }

  _setState(state) {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this._emit('state', { state, previous });
    if (state === 'online') {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _clearTimers() {
    for (const k of Object.keys(this.timers)) {
      clearTimeout(this.timers[k]);
      this.timers[k] = null;
    }
    for (const t of this.gapTimers.values()) clearTimeout(t);
    this.gapTimers.clear();
  }

  _open() {
    this._setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new this.WS(this.url ?? defaultUrl());
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => { if (this.ws === ws) this._hello(); };
    ws.onmessage = (ev) => { if (this.ws === ws) this._onFrame(ev.data); };
    ws.onerror = () => { /* onclose follows */ };
    ws.onclose = (ev) => { if (this.ws === ws) this._onClose(ev.code, ev.reason); };
  }

  _drop(reason) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try { ws.close(4000, reason); } catch { /* ignore */ }
    this._onClose(1006, reason, true);
  }

  _onClose(code, reason, alreadyDetached = false) {
    if (!alreadyDetached) this.ws = null;
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    this._failPending('disconnected');
    this.inflight.clear();
    // 4001: another tab/connection took the session; 4003: staff login died; 4005: banned.
    const final = this.stopped || code === 4001 || code === 4003 || code === 4005 || this._fatal;
    this._emit('closed', { code, reason, final: !!final });
    if (final) {
      this.stopped = true;
      this._setState('offline');
      return;
    }
    this._setState('reconnecting');
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.timers.reconnect);
    // Full jitter: uniform in [0, min(cap, base·2^attempt)], so a server restart is not hit by
    // every client at the same instant.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.max(50, Math.floor(this.random() * ceiling));
    this.attempt += 1;
    this.timers.reconnect = setTimeout(() => { if (!this.stopped && !this.ws) this._open(); }, delay);
  }

  _reconnectNow() {
    clearTimeout(this.timers.reconnect);
    this.attempt = 0;
    if (!this.ws) this._open();
  }

  _rawSend(obj) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    try {
      this.ws.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  _id() {
    return `c${(this.nextId++).toString(36)}`;
  }

  // ---- hello / resume ----
  async _hello() {
    const resume = this.resumeToken;
    const hello = { type: 'hello', v: 1 };
    if (resume) hello.resume_token = resume;
    else {
      hello.role = this.role;
      if (this.token) hello.token = this.token;
    }
    if (this.role === 'seeker') {
      const d = deviceId(this.local);
      if (d) hello.device = d;
    }
    let ok;
    try {
      ok = await this._requestNow(hello);
    } catch (err) {
      if (err.code === 'not_found' && resume) {
        // The session expired during a long outage: start a fresh one, and tell the app
        // (its conversations and queue place are gone with the old session).
        this.resumeToken = null;
        this.cursors = {};
        this.outbox = [];
        this._save(this.offsetsKey, this.cursors);
        this._save(this.outboxKey, this.outbox);
        this._rejectOutboxWaiters('expired', 'session expired');
        this._emit('expired', {});
        if (this.ws) this._hello();
        return;
      }
      if (err.code === 'forbidden' || err.code === 'not_authenticated') {
        this._fatal = true; // banned, or the staff token is dead: reconnecting cannot help
        this._emit('auth-failed', { code: err.code, message: err.message });
        if (err.code === 'not_authenticated') this.resumeToken = null;
        return; // the server closes with 1008
      }
      // unavailable (Redis down) or a dropped socket: back off and retry.
      if (this.ws) this._drop('hello failed');
      return;
    }
    this.attempt = 0;
    this.resumeToken = ok.resume_token;
    this._emit('session', { ...ok, resumed: !!resume });
    this._startHeartbeat();
    this._setState('online');
    // Catch up: every conversation the server lists plus those we followed, after our cursor.
    const ids = new Set(Object.keys(this.cursors));
    for (const c of ok.conversations ?? []) ids.add(c.conversation_id);
    for (const id of ids) this.sync(id).catch(() => {});
    this._flushOutbox();
  }

  _startHeartbeat() {
    clearTimeout(this.timers.ping);
    this.timers.ping = setTimeout(() => {
      if (!this._rawSend({ type: 'ping' })) return;
      clearTimeout(this.timers.pong);
      // No frame at all within the timeout: the socket is dead even if the browser thinks not
      // (a phone that changed networks); drop it and reconnect.
      this.timers.pong = setTimeout(() => this._drop('heartbeat timeout'), PONG_TIMEOUT_MS);
      this._startHeartbeat();
    }, PING_EVERY_MS);
  }

  // ---- frames ----
  _onFrame(data) {
    clearTimeout(this.timers.pong);
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f !== 'object') return;
    if ((f.type === 'ok' || f.type === 'error') && f.re !== undefined && this.pending.has(f.re)) {
      const p = this.pending.get(f.re);
      this.pending.delete(f.re);
      if (f.type === 'ok') p.resolve(f);
      else p.reject(new RequestError(f.code, f.message, f));
      return;
    }
    if (f.type === 'pong' || f.type === 'ok') return;
    if (f.type === 'message' && typeof f.offset === 'number') this._seen(f.conversation_id, f.offset);
    if (f.type === 'matched' && f.conversation_id && !this.cursors[f.conversation_id]) {
      this.cursors[f.conversation_id] = { after: 0, seen: [] };
      this._save(this.offsetsKey, this.cursors);
    }
    this._emit('frame', f);
  }

  // ---- offsets: what to sync after ----
  _seen(conv, offset) {
    const c = this.cursors[conv] ?? (this.cursors[conv] = { after: 0, seen: [] });
    if (offset <= c.after || c.seen.includes(offset)) return;
    c.seen.push(offset);
    c.seen.sort((a, b) => a - b);
    while (c.seen.length && c.seen[0] === c.after + 1) c.after = c.seen.shift();
    this._save(this.offsetsKey, this.cursors);
    // A hole below what we saw: a lost live delivery — unless it is our own unacknowledged send,
    // whose ok fills it. Sync if it is still open after a moment.
    if (c.seen.length && !this.gapTimers.has(conv)) {
      this.gapTimers.set(conv, setTimeout(() => {
        this.gapTimers.delete(conv);
        const cur = this.cursors[conv];
        if (cur && cur.seen.length && this.state === 'online') this.sync(conv).catch(() => {});
      }, GAP_SYNC_DELAY_MS));
    }
  }

  /** Last offset handled with no gap below it (what the next sync starts after). */
  cursor(conversationId) {
    return this.cursors[conversationId]?.after ?? 0;
  }

  /** Follow a conversation from `after` (e.g. restored transcript); without it, from 0. */
  follow(conversationId, after = 0) {
    const c = this.cursors[conversationId];
    if (!c || c.after < after) this.cursors[conversationId] = { after, seen: (c?.seen ?? []).filter((o) => o > after) };
    this._save(this.offsetsKey, this.cursors);
  }

  /** Stop following (the app forgot the conversation). */
  forget(conversationId) {
    delete this.cursors[conversationId];
    this._save(this.offsetsKey, this.cursors);
  }

  /** sync after our cursor; messages arrive as 'frame' events; resolves with the ok. */
  async sync(conversationId) {
    const after = this.cursor(conversationId);
    const ok = await this.request({ type: 'sync', conversation_id: conversationId, after });
    const c = this.cursors[conversationId] ?? (this.cursors[conversationId] = { after: 0, seen: [] });
    // Everything up to ok.offset that holds a copy for us has now been delivered; the rest are
    // our own sends (no copy for us), so the cursor may jump.
    if (typeof ok.offset === 'number' && ok.offset > c.after) {
      c.after = ok.offset;
      c.seen = c.seen.filter((o) => o > c.after);
      this._save(this.offsetsKey, this.cursors);
    }
    if (ok.recovered === false) this._emit('recovered', { conversation_id: conversationId, recovered: false });
    return ok;
  }

  // ---- requests ----
  _requestNow(obj) {
    const id = obj.id ?? this._id();
    const frame = { ...obj, id };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (!this._rawSend(frame)) {
        this.pending.delete(id);
        reject(new RequestError('offline', 'not connected'));
      }
    });
  }

  _failPending(code) {
    const p = this.pending;
    this.pending = new Map();
    for (const { reject } of p.values()) reject(new RequestError(code, code === 'disconnected' ? 'connection lost before the answer' : code));
  }

  /** Resolves once online (immediately if already). */
  whenOnline() {
    if (this.state === 'online') return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Send one message with an id → Promise of the ok frame; rejects with RequestError (server
   * error, or 'offline' / 'disconnected'). `{waitOnline: true}` waits for the session first
   * (for things that must get through, like the panic button).
   */
  async request(obj, { waitOnline = false } = {}) {
    if (waitOnline) await this.whenOnline();
    else if (this.state !== 'online') throw new RequestError('offline', 'not connected');
    return this._requestNow(obj);
  }

  /** Fire-and-forget (typing, receipt): dropped when offline — they are hints, not data. */
  notify(obj) {
    if (this.state === 'online') this._rawSend(obj);
  }

  // ---- outbox ----
  /**
   * Queue a `send` {conversation_id, seq, copies}; it is kept in sessionStorage until the server
   * stores it and re-sent with the same seq (and the same copies) after drops and reloads — the
   * server de-duplicates by seq. Resolves with the ok ({offset}); also emits 'ack'.
   */
  sendMessage({ conversation_id, seq, copies }) {
    const key = `${conversation_id}|${seq}`;
    if (!this.outbox.some((m) => m.conversation_id === conversation_id && m.seq === seq)) {
      this.outbox.push({ conversation_id, seq, copies });
      this._save(this.outboxKey, this.outbox);
    }
    const p = new Promise((resolve, reject) => {
      const list = this.outboxWaiters.get(key) ?? [];
      list.push({ resolve, reject });
      this.outboxWaiters.set(key, list);
    });
    this._flushOutbox();
    return p;
  }

  /** Unacknowledged sends (for showing "sending…" after a reload). */
  pendingSends(conversationId) {
    return this.outbox.filter((m) => !conversationId || m.conversation_id === conversationId);
  }

  _settleOutbox(item, ok, err) {
    const key = `${item.conversation_id}|${item.seq}`;
    this.outbox = this.outbox.filter((m) => !(m.conversation_id === item.conversation_id && m.seq === item.seq));
    this._save(this.outboxKey, this.outbox);
    const waiters = this.outboxWaiters.get(key) ?? [];
    this.outboxWaiters.delete(key);
    for (const w of waiters) (ok ? w.resolve(ok) : w.reject(err));
  }

  _rejectOutboxWaiters(code, message) {
    for (const list of this.outboxWaiters.values()) for (const w of list) w.reject(new RequestError(code, message));
    this.outboxWaiters.clear();
  }

  _flushOutbox() {
    if (this.state !== 'online') return;
    // One send in flight per conversation, in seq order: the server refuses a lower seq once a
    // higher one is stored (conflict), so a rate-limited seq 3 must not let seq 4 overtake it.
    const heads = new Map();
    for (const item of this.outbox) if (!heads.has(item.conversation_id)) heads.set(item.conversation_id, item);
    for (const item of heads.values()) {
      const key = `${item.conversation_id}|${item.seq}`;
      if (this.inflight.has(key)) continue;
      this.inflight.add(key);
      this._requestNow({ type: 'send', conversation_id: item.conversation_id, seq: item.seq, copies: item.copies })
        .then((ok) => {
          this.inflight.delete(key);
          this.sendRefusals = 0;
          if (typeof ok.offset === 'number') this._seen(item.conversation_id, ok.offset);
          this._settleOutbox(item, ok);
          this._emit('ack', { conversation_id: item.conversation_id, seq: item.seq, offset: ok.offset });
          this._flushOutbox();
        })
        .catch((err) => {
          this.inflight.delete(key);
          if (err.code === 'offline' || err.code === 'disconnected' || err.code === 'closed') return; // resent on reconnect
          if (err.code === 'rate_limited' || err.code === 'unavailable' || err.code === 'internal') {
            setTimeout(() => this._flushOutbox(), this._sendRetryDelay(err));
            return;
          }
          // conflict (conversation ended, or a lower seq), bad_message (e.g. the copy set changed
          // because a moderator joined), not_found: resending the same frame cannot succeed.
          this._settleOutbox(item, null, err);
          this._emit('send-failed', { conversation_id: item.conversation_id, seq: item.seq, code: err.code, message: err.message });
          this._flushOutbox();
        });
    }
  }
}
