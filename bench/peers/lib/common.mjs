// common.mjs — what the peer servers and the Socket.IO generator share: command-line parsing,
// the --listen and --redis forms, ioredis connection options, and /proc CPU readings.
// Plain functions, no state; safe to import from any of the scripts.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Parses `--name value` and `--flag` arguments against `spec` ({name: 'string'|'number'|
// 'flag'}). Unknown options and missing values throw, so a typo never runs a benchmark with
// a default the caller did not mean.
export function parseArgs(argv, spec) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      out.help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const name = arg.slice(2);
    const kind = spec[name];
    if (!kind) throw new Error(`unknown option ${arg}`);
    if (kind === 'flag') {
      out[name] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
    const raw = argv[++i];
    if (kind === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new Error(`${arg} must be a number, not ${raw}`);
      out[name] = n;
    } else {
      out[name] = raw;
    }
  }
  return out;
}

// "127.0.0.1:8080" → {host, port}; port 0 lets the kernel choose.
export function parseListen(text) {
  const m = /^(.*):(\d+)$/.exec(text ?? '');
  if (!m || !m[1]) throw new Error(`--listen must be HOST:PORT, not ${text}`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`--listen: port ${port} is out of range`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

// ioredis options for --redis: a unix socket path ("/run/redis.sock" or "unix:/run/…") or
// "host:port" ("tcp://host:port" too, the form kindred-bench and kindred-server take).
export function redisOptions(text) {
  if (!text) throw new Error('--redis is required (a unix socket path or host:port)');
  let spec = text;
  if (spec.startsWith('unix:')) return { path: spec.slice(5) };
  if (spec.startsWith('/')) return { path: spec };
  if (spec.startsWith('tcp://')) spec = spec.slice(6);
  const m = /^(.*):(\d+)$/.exec(spec);
  if (!m) throw new Error(`--redis must be a socket path or host:port, not ${text}`);
  return { host: m[1], port: Number(m[2]) };
}

let ticksPerSecond = 0;

// utime + stime of /proc/<pid>/stat in seconds (children not included), or null when the
// process cannot be read. The same reading kindred-bench takes (fields 14 and 15).
export function processCpuSeconds(pid) {
  if (!ticksPerSecond) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / ticksPerSecond;
}

// Resolves once every ioredis client answers PING; rejects after `ms` (ioredis would otherwise
// keep retrying an unreachable Redis for a long time before a start-up failure shows).
export async function waitForRedis(clients, ms = 5000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    await Promise.race([Promise.all(clients.map((c) => c.ping())), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Logs a client's connection errors on stderr, at most one line a second for all of them
// (ioredis reports every reconnect attempt).
export function logRedisErrors(name, clients) {
  let last = 0;
  for (const c of clients) {
    c.on('error', (e) => {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      console.error(`${name}: redis: ${e.message}`);
    });
  }
}
