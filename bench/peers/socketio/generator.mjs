// generator.mjs — the load generator for the Socket.IO peer (./server.mjs), with the semantics
// of `kindred-bench --scenario relay`: --pairs M pairs (2M socket.io-client connections, each
// its own WebSocket: forceNew, transport websocket only), both sides of each pair sending to
// the other; open loop at --rate msgs/s in total (round-robin over the clients, each body
// stamped with the time it was *scheduled* for, so falling behind shows as latency) or, with
// --rate 0, closed loop with --window sends in flight per client (stamped when sent). After
// --warmup s, over --duration s: delivered msgs/s, latency percentiles (exact, nearest rank),
// server and Redis CPU µs per delivered message (/proc/<pid>/stat), and this process's own
// CPU (process.cpuUsage) so a saturated generator is not mistaken for a saturated server.
// Then sending stops, every message must be acknowledged and received exactly once (exit 1
// otherwise). A progress line on stderr every second, a summary on stdout, the result in
// --json FILE with kindred-bench's field names.
//
// Body size: Kindred's clients send `"<ts> <k> <sender> "` padded to --size bytes as plaintext,
// wrapped as {"text": …}, padded to a multiple of 256 bytes, encrypted (16-byte tag), base64;
// plus a 24-byte nonce in base64. The body here is the same stamp padded to that many
// characters (nonce + ciphertext base64), so the payload bytes on the wire match; the
// envelopes differ (Socket.IO's packet vs Kindred's JSON with ids and field names).
//
// Single-threaded (Node's event loop); exit codes as kindred-bench: 0 passed, 1 a check
// failed, 2 usage, 3 the run could not be set up.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';

import { parseArgs, processCpuSeconds } from '../lib/common.mjs';

const usage = `Usage: node bench/peers/socketio/generator.mjs --url http://HOST:PORT [options]

  --url URL            the Socket.IO server (http://127.0.0.1:PORT)
  --pairs M            pairs of clients, each in its own room (default 100)
  --rate R             messages/s in total, open loop; 0 = closed loop (default 0)
  --window W           closed loop: sends in flight per client (default 8)
  --duration S         measured seconds (default 10)
  --warmup S           seconds before measuring (default 1)
  --size BYTES         Kindred plaintext size to match on the wire (default 100)
  --server-pid PID     the server's pid: CPU from /proc
  --redis-pid PID      Redis's pid: CPU from /proc
  --json FILE          write the result here (JSON)
  --setup-timeout S    seconds allowed for connecting and for the drain (default 120)
`;

const EXIT = { passed: 0, checkFailed: 1, usage: 2, setupFailed: 3 };

let o;
try {
  o = parseArgs(process.argv.slice(2), {
    url: 'string', pairs: 'number', rate: 'number', window: 'number', duration: 'number',
    warmup: 'number', size: 'number', 'server-pid': 'number', 'redis-pid': 'number',
    json: 'string', 'setup-timeout': 'number',
  });
} catch (e) {
  process.stderr.write(`socketio-generator: ${e.message}\n${usage}`);
  process.exit(EXIT.usage);
}
if (o.help) {
  process.stdout.write(usage);
  process.exit(EXIT.passed);
}
o = {
  url: 'http://127.0.0.1:8080', pairs: 100, rate: 0, window: 8, duration: 10, warmup: 1,
  size: 100, 'setup-timeout': 120, ...o,
};
if (!/^https?:\/\//.test(o.url) || o.pairs < 1 || !Number.isInteger(o.pairs) || o.rate < 0 ||
    o.window < 1 || o.duration <= 0 || o.warmup < 0 || o.size < 0 || o.size > 60000) {
  process.stderr.write(`socketio-generator: an option is out of range\n${usage}`);
  process.exit(EXIT.usage);
}

// Characters of base64 for n bytes (with padding).
const base64Chars = (n) => 4 * Math.ceil(n / 3);
// Kindred's wire payload for a --size plaintext: nonce + ciphertext of the padded JSON.
const kindredPlainJson = o.size + '{"text":""}'.length;
const kindredPadded = (Math.floor(kindredPlainJson / 256) + 1) * 256;
const bodyChars = base64Chars(24) + base64Chars(kindredPadded + 16);

const nowNs = () => Math.round(performance.now() * 1e6);
const started = nowNs();
const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');

// ---- parties ----------------------------------------------------------------------------------
const problems = [];
let problemCount = 0;
function problem(text) {
  problemCount++;
  if (problems.length < 50) problems.push(text);
}

const count = { open: 0, ready: 0, sent: 0, acked: 0, received: 0, lost: 0 };
let sending = false;
let windowFrom = Infinity;
let windowTo = Infinity;
const parties = [];

class Party {
  constructor(index, conv) {
    this.index = index;
    this.conv = conv;
    this.partner = null;
    this.sent = 0;
    this.acked = 0;
    this.got = []; // got[k]: copies of the partner's message k
    this.malformed = 0;
    this.unexpected = 0;
    this.latency = [];
    this.ready = false;
    this.socket = null;
  }

  connect() {
    return new Promise((resolve) => {
      const s = io(o.url, { transports: ['websocket'], forceNew: true, reconnection: false });
      this.socket = s;
      s.on('connect', () => {
        count.open++;
        s.emit('join', this.conv, () => {
          this.ready = true;
          count.ready++;
          resolve(true);
        });
      });
      s.on('connect_error', (e) => {
        problem(`party ${this.index}: connect failed: ${e.message}`);
        resolve(false);
      });
      s.on('disconnect', (reason) => {
        count.open--;
        if (this.ready) count.ready--;
        this.ready = false;
        if (reason !== 'io client disconnect') {
          count.lost++;
          problem(`party ${this.index}: connection lost: ${reason}`);
        }
      });
      s.on('message', (m) => this.onMessage(m));
    });
  }

  send(stampNs) {
    if (!this.ready) return false;
    // "<ts> <k> <sender> " padded with x to the body size: the receiver needs the first three.
    let body = `${stampNs} ${this.sent} ${this.index} `;
    if (body.length < bodyChars) body += 'x'.repeat(bodyChars - body.length);
    this.sent++;
    count.sent++;
    this.socket.emit('send', { conv: this.conv, body }, (res) => this.onAck(res));
    return true;
  }

  onAck(res) {
    if (!res || !Number.isInteger(res.offset)) {
      problem(`party ${this.index}: send refused: ${res?.error ?? 'no offset'}`);
      return;
    }
    this.acked++;
    count.acked++;
    if (sending && o.rate === 0) {
      while (this.sent - this.acked < o.window && this.send(nowNs())) { /* refill the window */ }
    }
  }

  onMessage(m) {
    const now = nowNs();
    const body = m?.body;
    const parts = typeof body === 'string' ? body.split(' ', 3) : [];
    const ts = Number(parts[0]);
    const k = Number(parts[1]);
    const sender = Number(parts[2]);
    if (parts.length < 3 || !Number.isInteger(ts) || !Number.isInteger(k) || k < 0 || k > 1e8) {
      this.malformed++;
      return;
    }
    if (!this.partner || sender !== this.partner.index) {
      this.unexpected++;
      problem(`party ${this.index}: a message from party ${sender}, not its partner`);
      return;
    }
    while (this.got.length <= k) this.got.push(0);
    this.got[k]++;
    count.received++;
    if (ts >= windowFrom && ts < windowTo) this.latency.push(now - ts);
  }
}

for (let pair = 0; pair < o.pairs; pair++) {
  const a = new Party(2 * pair, pair);
  const b = new Party(2 * pair + 1, pair);
  a.partner = b;
  b.partner = a;
  parties.push(a, b);
}

function progress(phase) {
  const t = ((nowNs() - started) / 1e9).toFixed(1).padStart(6);
  process.stderr.write(
    `[socketio relay ${t}s ${phase}] open ${count.open} ready ${count.ready} sent ${count.sent} ` +
    `acked ${count.acked} received ${count.received} lost ${count.lost} problems ${problemCount}\n`,
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits until done() or timeoutMs, printing the progress line every second.
async function waitUntil(done, timeoutMs, phase) {
  const start = Date.now();
  let nextPrint = start + 1000;
  while (!done()) {
    const now = Date.now();
    if (now - start >= timeoutMs) return done();
    if (now >= nextPrint) {
      progress(phase);
      nextPrint += 1000;
    }
    await sleep(5);
  }
  return true;
}

function cpuMark() {
  const u = process.cpuUsage();
  return {
    atNs: nowNs(),
    server: o['server-pid'] ? processCpuSeconds(o['server-pid']) : null,
    redis: o['redis-pid'] ? processCpuSeconds(o['redis-pid']) : null,
    generator: (u.user + u.system) / 1e6,
  };
}

// Nearest rank: the smallest sample with at least p of all samples at or below it.
function summarize(samplesNs) {
  const s = Float64Array.from(samplesNs).sort();
  const n = s.length;
  const r3 = (v) => Math.round(v * 1000) / 1000;
  if (n === 0) {
    return { count: 0, min_ms: 0, p50_ms: 0, p90_ms: 0, p99_ms: 0, p99_9_ms: 0, max_ms: 0, mean_ms: 0 };
  }
  const at = (p) => s[Math.min(n, Math.max(1, Math.ceil(p * n))) - 1] / 1e6;
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: n, min_ms: r3(s[0] / 1e6), p50_ms: r3(at(0.5)), p90_ms: r3(at(0.9)), p99_ms: r3(at(0.99)),
    p99_9_ms: r3(at(0.999)), max_ms: r3(s[n - 1] / 1e6), mean_ms: r3(sum / n / 1e6),
  };
}

function checkExactlyOnce() {
  let sent = 0, unacked = 0, lost = 0, duplicated = 0, unexpected = 0, malformed = 0;
  for (const p of parties) {
    malformed += p.malformed;
    unexpected += p.unexpected;
    const q = p.partner;
    sent += p.sent;
    if (p.acked < p.sent) {
      unacked += p.sent - p.acked;
      problem(`party ${p.index}: ${p.sent - p.acked} messages never acknowledged`);
    }
    for (let k = 0; k < Math.max(p.sent, q.got.length); k++) {
      const copies = k < q.got.length ? q.got[k] : 0;
      if (k < p.sent && copies === 0) {
        lost++;
        problem(`party ${p.index}: message ${k} never reached party ${q.index}`);
      } else if (k < p.sent && copies > 1) {
        duplicated++;
        problem(`party ${q.index} received message ${k} of party ${p.index} ${copies} times`);
      } else if (k >= p.sent && copies > 0) {
        unexpected++;
        problem(`party ${q.index} received message ${k} that party ${p.index} never sent`);
      }
    }
  }
  if (malformed > 0) problem(`${malformed} received bodies were malformed`);
  return { messages_sent: sent, unacknowledged: unacked, lost, duplicated, unexpected, malformed };
}

function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

// ---- the run ----------------------------------------------------------------------------------
async function connectAll() {
  // At most 256 connects in flight, like kindred-bench's default --concurrency.
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < parties.length) {
      const p = parties[next++];
      if (!(await p.connect())) failed++;
    }
  };
  for (let i = 0; i < Math.min(256, parties.length); i++) worker();
  const all = await waitUntil(() => count.ready + failed >= parties.length, o['setup-timeout'] * 1000, 'connect');
  return all && failed === 0;
}

function startOpenLoop(t0) {
  let issued = 0;
  let next = 0;
  const timer = setInterval(() => {
    if (!sending) return clearInterval(timer);
    const now = nowNs();
    const due = now <= t0 ? 0 : Math.floor(((now - t0) / 1e9) * o.rate);
    while (issued < due && sending) {
      const scheduled = t0 + Math.round((issued * 1e9) / o.rate);
      parties[next++ % parties.length].send(scheduled);
      issued++;
    }
  }, 1);
}

async function main() {
  if (!(await connectAll())) {
    progress('connect');
    process.stderr.write(`socketio-generator: only ${count.ready} of ${parties.length} clients connected\n`);
    for (const p of problems) process.stderr.write(`  ${p}\n`);
    closeAll();
    return EXIT.setupFailed;
  }

  const t0 = nowNs() + 50e6;
  windowFrom = t0 + o.warmup * 1e9;
  windowTo = windowFrom + o.duration * 1e9;
  sending = true;
  const closedLoop = o.rate === 0;
  if (closedLoop) {
    for (const p of parties) for (let i = 0; i < o.window; i++) p.send(nowNs());
  } else {
    startOpenLoop(t0);
  }

  await waitUntil(() => nowNs() >= windowFrom, (windowFrom - nowNs()) / 1e6 + 1000, 'warmup');
  const from = cpuMark();
  const receivedFrom = count.received;
  await waitUntil(() => nowNs() >= windowTo, (windowTo - nowNs()) / 1e6 + 1000, 'measure');
  const to = cpuMark();
  const receivedTo = count.received;
  sending = false;

  const drained = await waitUntil(
    () => count.acked >= count.sent && count.received >= count.sent,
    o['setup-timeout'] * 1000, 'drain');
  if (!drained) problem('not every message was acknowledged and received in time');
  closeAll();

  const lat = [];
  for (const p of parties) for (const v of p.latency) lat.push(v);
  const latency = summarize(lat);
  const secs = (to.atNs - from.atNs) / 1e9;
  const delivered = receivedTo - receivedFrom;
  const perS = secs > 0 ? delivered / secs : 0;
  const round = (v, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

  const f = { pairs: o.pairs, mode: closedLoop ? 'closed_loop' : 'open_loop' };
  if (closedLoop) f.window = o.window;
  else f.offered_per_second = o.rate;
  f.message_bytes = o.size;
  f.body_bytes = bodyChars;
  f.measured_seconds = round(secs);
  f.delivered_in_window = delivered;
  f.delivered_per_second = round(perS, 1);
  f.latency = latency;
  const summary = [
    `${o.pairs} pairs, ${closedLoop ? `closed loop, window ${o.window}` : `offered ${Math.round(o.rate)} msgs/s`}: ` +
      `${perS.toFixed(1)} msgs/s delivered over ${secs.toFixed(2)} s (${delivered} msgs)`,
    `latency (send -> received by the other client): ` + (latency.count === 0 ? 'no samples'
      : `p50 ${latency.p50_ms.toFixed(3)} ms  p90 ${latency.p90_ms.toFixed(3)} ms  p99 ${latency.p99_ms.toFixed(3)} ms  ` +
        `p99.9 ${latency.p99_9_ms.toFixed(3)} ms  max ${latency.max_ms.toFixed(3)} ms  (${latency.count} samples)`),
  ];
  if (from.server !== null && to.server !== null && delivered > 0) {
    const us = ((to.server - from.server) * 1e6) / delivered;
    f.server_cpu_seconds = round(to.server - from.server);
    f.server_cpu_us_per_message = round(us, 2);
    summary.push(`server CPU ${(to.server - from.server).toFixed(2)} s: ${us.toFixed(2)} us per delivered message`);
  }
  if (from.redis !== null && to.redis !== null && delivered > 0) {
    const us = ((to.redis - from.redis) * 1e6) / delivered;
    f.redis_cpu_seconds = round(to.redis - from.redis);
    f.redis_cpu_us_per_message = round(us, 2);
    summary.push(`redis CPU ${(to.redis - from.redis).toFixed(2)} s: ${us.toFixed(2)} us per delivered message`);
  }
  if (secs > 0) {
    const pct = (100 * (to.generator - from.generator)) / secs;
    f.generator_cpu_percent = round(pct, 1);
    summary.push(`generator CPU ${pct.toFixed(1)} % of one core (1 thread)`);
  }
  f.delivery = checkExactlyOnce();

  const passed = problemCount === 0;
  const out = {
    scenario: 'relay',
    peer: 'socketio',
    started_at: startedAt,
    command: process.argv.join(' '),
    machine: { cores: os.cpus().length, kernel: os.release() },
  };
  if (o['server-pid']) out.server_command = commandLine(o['server-pid']);
  if (o['redis-pid']) out.redis_command = commandLine(o['redis-pid']);
  out.generator = { threads: 1, node: process.version, transport: 'websocket' };
  out.labels = {};
  out.results = f;
  out.retried_answers = { rate_limited: 0, unavailable: 0 };
  out.checks = { passed, problem_count: problemCount, problems };

  console.log(`socketio generator relay (${startedAt})`);
  for (const line of summary) console.log(`  ${line}`);
  console.log(`  checks: ${passed ? 'passed' : 'FAILED'}`);
  for (const p of problems) console.log(`    ${p}`);
  if (problemCount > problems.length) console.log(`    ... and ${problemCount - problems.length} more`);
  if (o.json) {
    try {
      writeFileSync(o.json, JSON.stringify(out) + '\n');
    } catch (e) {
      process.stderr.write(`socketio-generator: cannot write ${o.json}: ${e.message}\n`);
      return EXIT.setupFailed;
    }
    console.log(`  result: ${o.json}`);
  }
  return passed ? EXIT.passed : EXIT.checkFailed;
}

function closeAll() {
  for (const p of parties) {
    p.ready = false;
    p.socket?.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`socketio-generator: ${e.stack ?? e}\n`);
    process.exit(EXIT.setupFailed);
  },
);
