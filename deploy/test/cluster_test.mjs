// cluster_test.mjs — the local TLS cluster (deploy/local/cluster.sh) end to end: a seeker and a
// peer chat through nginx over TLS with the web client's own library (web/lib: connection.js,
// e2e.js); the instance holding the seeker is killed with SIGKILL; the seeker resumes through
// nginx on the other instance and both sides end up with every message, in order, decrypted;
// `down` stops everything and no process of the cluster is left.
//
// Two processes: this one (the supervisor) brings the cluster up, runs the chat in a child
// Node (which needs --experimental-websocket and the cluster's certificate in
// NODE_EXTRA_CA_CERTS, both fixed at Node's start), then always runs `down` and checks that
// every process is gone. Bounded: the child is killed after CHAT_DEADLINE_MS.
//
// Usage: node deploy/test/cluster_test.mjs --bin-dir BUILD/bin [--source-dir REPO]
// Exit 77 (skipped) only when nginx is not installed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHAT_DEADLINE_MS = 40000; // a hang guard, not a speed assertion: the chat takes ~3 s
const STEP_TIMEOUT_MS = 15000;

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const sourceDir = path.resolve(arg('--source-dir', path.join(here, '../..')));

// ---------------------------------------------------------------- supervisor

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function onPath(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

// Exited but not yet reaped by init (a zombie) counts as gone.
const alive = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

const readPid = (file) => {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8'), 10) || null;
  } catch {
    return null;
  }
};

// Every process the cluster runs: the recorded pids, nginx's workers, and anything whose
// command line names the state folder.
function clusterPids(state) {
  const pids = new Set();
  const files = [path.join(state, 'redis.pid'), path.join(state, 'nginx/nginx.pid')];
  for (const f of fs.readdirSync(state)) if (/^inst-\d+\.pid$/.test(f)) files.push(path.join(state, f));
  for (const f of files) {
    const pid = readPid(f);
    if (pid && alive(pid)) pids.add(pid);
  }
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (cmd.includes(state) || pids.has(ppid)) pids.add(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  pids.delete(process.pid);
  return pids;
}

function cluster(state, opts, command) {
  const r = spawnSync(path.join(sourceDir, 'deploy/local/cluster.sh'),
    ['--state', state, ...opts, command], { cwd: sourceDir, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

async function supervise() {
  if (!onPath('nginx')) {
    console.log('SKIP: nginx is not installed (scripts/install-deps.sh installs it)');
    return 77;
  }
  const binDir = path.resolve(arg('--bin-dir', path.join(sourceDir, 'build/dev/bin')));
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'kindred-cluster-'));
  const httpsPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === httpsPort) httpPort = await freePort();
  const opts = ['--instances', '2', '--https-port', String(httpsPort), '--http-port', String(httpPort),
    '--build-dir', path.dirname(binDir)];
  const failures = [];
  const check = (ok, what) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) failures.push(what);
  };

  let seen = new Set();
  try {
    const up = cluster(state, opts, 'up');
    check(up.status === 0 && up.out.includes(`https://localhost:${httpsPort}/`), 'cluster up prints the URL');
    if (up.status !== 0) {
      console.log(up.out);
      return 1;
    }
    seen = clusterPids(state);
    check(seen.size >= 5, `cluster runs redis, 2 instances and nginx (${seen.size} processes)`);

    const redirect = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}',
      `http://localhost:${httpPort}/staff`], { encoding: 'utf8' }).stdout;
    check(redirect === `301 https://localhost:${httpsPort}/staff`, `HTTP redirects to HTTPS (${redirect})`);

    const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings',
      fileURLToPath(import.meta.url), '--source-dir', sourceDir], {
      stdio: 'inherit',
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: path.join(state, 'nginx/tls/cert.pem'),
        KINDRED_CLUSTER_TEST_CHILD: JSON.stringify({ state, httpsPort }),
      },
    });
    const timer = setTimeout(() => {
      console.log(`FAIL the chat did not finish within ${CHAT_DEADLINE_MS} ms; killing it`);
      child.kill('SIGKILL');
    }, CHAT_DEADLINE_MS);
    const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
    clearTimeout(timer);
    check(code === 0, `the chat through nginx survived an instance kill (child exit ${code})`);
    for (const pid of clusterPids(state)) seen.add(pid);
  } finally {
    const down = cluster(state, opts, 'down');
    check(down.status === 0, 'cluster down exits 0');
    if (down.status !== 0) console.log(down.out);
    const left = [...seen, ...clusterPids(state)].filter(alive);
    check(left.length === 0, `no process of the cluster is left (${left.join(' ') || 'none'})`);
    for (const pid of left) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    const pidFiles = fs.readdirSync(state).filter((f) => f.endsWith('.pid'));
    check(pidFiles.length === 0 && !fs.existsSync(path.join(state, 'nginx/nginx.pid')),
      `no pid file is left (${pidFiles.join(' ') || 'none'})`);
    check(cluster(state, opts, 'status').status !== 0, 'status after down says it is not running');
    if (failures.length) {
      for (const f of ['inst-1.log', 'inst-2.log', 'redis.log', 'nginx/error.log']) {
        const p = path.join(state, f);
        if (fs.existsSync(p)) console.log(`--- ${f}\n${fs.readFileSync(p, 'utf8').split('\n').slice(-15).join('\n')}`);
      }
    }
    fs.rmSync(state, { recursive: true, force: true });
  }
  console.log(failures.length ? `${failures.length} check(s) failed` : 'all checks passed');
  return failures.length ? 1 : 0;
}

// ---------------------------------------------------------------- the chat (child)

class MemStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

async function until(what, cond, ms = STEP_TIMEOUT_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function redisCli(state, ...args) {
  return spawnSync('redis-cli', ['-s', path.join(state, 'redis.sock'), ...args], { encoding: 'utf8' }).stdout.trim();
}

async function chat({ state, httpsPort }) {
  const lib = (f) => import(pathToFileURL(path.join(sourceDir, 'web/lib', f)).href);
  let e2e;
  try {
    e2e = await lib('e2e.js');
  } catch (err) {
    console.log(`FAIL cannot load web/lib/e2e.js (run "npm ci" in web/; make does): ${err.message}`);
    process.exit(1);
  }
  const { KindredConnection } = await lib('connection.js');
  const base = `https://localhost:${httpsPort}`;
  const url = `wss://localhost:${httpsPort}/v1/ws`;
  const assert = (ok, what) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) process.exit(1);
  };

  // A party: its connection, the frames it got, the texts it decrypted (by sender's seq).
  const party = (role, token) => {
    const conn = new KindredConnection({ role, token, url, session: new MemStorage(), local: new MemStorage(),
      WebSocket: globalThis.WebSocket, prefix: `${role}.` });
    const p = { conn, frames: [], texts: new Map(), offsets: new Set(), states: [], sessions: [], errors: [], crypto: null };
    conn.addEventListener('frame', (e) => {
      const f = e.detail;
      p.frames.push(f);
      if (f.type === 'message' && p.crypto && !p.offsets.has(f.offset)) {
        p.offsets.add(f.offset);
        try {
          p.texts.set(f.seq, p.crypto.decrypt(f));
        } catch (err) {
          p.errors.push(err.code ?? err.message); // checked below: a listener must not throw
        }
      }
    });
    conn.addEventListener('state', (e) => p.states.push(e.detail.state));
    conn.addEventListener('session', (e) => p.sessions.push(e.detail));
    conn.addEventListener('expired', () => { p.expired = true; });
    conn.addEventListener('recovered', () => { p.lost = true; });
    return p;
  };

  // The peer: log in over HTTPS, identity key, prekeys, a shift for grief in English.
  const login = await fetch(`${base}/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'demo-peer', password: 'demo-peer-password' }),
  });
  assert(login.status === 200, `demo-peer logs in through nginx (${login.status})`);
  const { token } = await login.json();
  const peer = party('peer', token);
  peer.conn.connect();
  await until('the peer online', () => peer.conn.state === 'online');
  const identity = e2e.identityKeyPair();
  await peer.conn.request({ type: 'register_identity', identity_key: e2e.toBase64(identity.publicKey) });
  const prekeys = Array.from({ length: 3 }, () => e2e.kxKeyPair());
  await peer.conn.request({ type: 'prekeys', keys: prekeys.map((k) => ({
    prekey: e2e.toBase64(k.publicKey), signature: e2e.signPrekey(k.publicKey, identity.privateKey) })) });
  await peer.conn.request({ type: 'shift_start', capacity: 1, tags: ['grief'], languages: ['en'] });

  // The seeker asks; both get `matched` and set up the conversation's keys.
  const seeker = party('seeker');
  seeker.conn.connect();
  await until('the seeker online', () => seeker.conn.state === 'online');
  const seekerKeys = e2e.kxKeyPair();
  await seeker.conn.request({ type: 'request_match', tags: ['grief'], languages: ['en'], pubkey: e2e.toBase64(seekerKeys.publicKey) });
  const sm = await until('matched (seeker)', () => seeker.frames.find((f) => f.type === 'matched'));
  const pm = await until('matched (peer)', () => peer.frames.find((f) => f.type === 'matched'));
  const conv = sm.conversation_id;
  assert(pm.conversation_id === conv, 'both sides are matched into one conversation');
  seeker.crypto = e2e.ConversationCrypto.forSeeker(conv, seekerKeys, sm.peer);
  const pair = prekeys.find((k) => e2e.toBase64(k.publicKey) === pm.prekey);
  peer.crypto = e2e.ConversationCrypto.forPeer(conv, pair, identity.publicKey, pm.seeker.pubkey);
  assert(seeker.crypto.safetyCode() === peer.crypto.safetyCode(), 'the safety codes agree');

  const say = (p, seq) => p.conn.sendMessage({ conversation_id: conv, seq, copies: p.crypto.encrypt(seq, `${p.conn.role} line ${seq}`) });
  const got = (p, from, n) => {
    for (let seq = 1; seq <= n; seq++) if (p.texts.get(seq) !== `${from} line ${seq}`) return false;
    return true;
  };
  for (let seq = 1; seq <= 3; seq++) {
    await say(seeker, seq);
    await say(peer, seq);
  }
  await until('the first three lines both ways', () => got(seeker, 'peer', 3) && got(peer, 'seeker', 3));
  assert(true, 'three lines each way through nginx, decrypted');

  // Kill the instance holding the seeker's session: no drain, no close frame.
  const session = seeker.sessions[0].session;
  const holder = redisCli(state, 'HGET', `sess:{${session}}`, 'instance');
  const n = /^local-(\d)$/.exec(holder)?.[1];
  assert(!!n, `the seeker's session is held by ${holder}`);
  const pid = readPid(path.join(state, `inst-${n}.pid`));
  process.kill(pid, 'SIGKILL');
  await until('the killed instance to be gone', () => !alive(pid));
  console.log(`ok   killed ${holder} (SIGKILL)`);

  // Both keep talking while the seeker is cut off; the outboxes hold what cannot go yet.
  const sends = [];
  for (let seq = 4; seq <= 6; seq++) sends.push(say(peer, seq), say(seeker, seq));
  await until('the seeker back online', () => seeker.sessions.length >= 2 && seeker.conn.state === 'online');
  await Promise.all(sends);
  await until('all six lines both ways', () => got(seeker, 'peer', 6) && got(peer, 'seeker', 6));

  const resumed = seeker.sessions.at(-1);
  assert(resumed.resumed && resumed.session === session, 'the seeker resumed its own session (no new one)');
  assert(!seeker.expired && !seeker.lost && !peer.lost, 'no expired session, no "messages may be missing"');
  assert(seeker.states.includes('reconnecting'), 'the seeker did reconnect');
  const now = redisCli(state, 'HGET', `sess:{${session}}`, 'instance');
  assert(now !== holder && /^local-\d$/.test(now), `the session now lives on ${now}`);
  assert(seeker.texts.size === 6 && peer.texts.size === 6, 'six lines each way, nothing lost');
  assert(!seeker.errors.length && !peer.errors.length, `every copy decrypted (${[...seeker.errors, ...peer.errors].join(' ') || 'no errors'})`);
  assert(!seeker.frames.some((f) => f.type === 'ended') && !peer.frames.some((f) => f.type === 'ended'),
    'the conversation is still going');

  seeker.conn.close();
  peer.conn.close();
  process.exit(0);
}

// Last, so every const above is initialised.
if (process.env.KINDRED_CLUSTER_TEST_CHILD) {
  await chat(JSON.parse(process.env.KINDRED_CLUSTER_TEST_CHILD));
} else {
  process.exitCode = await supervise();
}
