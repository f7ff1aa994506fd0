// redis.mjs — a tiny RESP2 client over the test Redis's unix socket, so the browser tests can
// read every key back (the "canary never in Redis" check) without a Redis package from npm.
import net from 'node:net';

// Parses one RESP2 reply from buf at pos; returns [value, nextPos] or null when incomplete.
// Bulk strings stay Buffers: stored values are binary (ciphertext), and the canary check
// must search the raw bytes, not a lossy UTF-8 decoding of them.
function parseReply(buf, pos) {
  if (pos >= buf.length) return null;
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd < 0) return null;
  const kind = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, lineEnd);
  const after = lineEnd + 2;
  switch (kind) {
    case '+': return [line, after];
    case '-': return [new RedisError(line), after];
    case ':': return [Number(line), after];
    case '$': {
      const n = Number(line);
      if (n < 0) return [null, after];
      if (buf.length < after + n + 2) return null;
      return [buf.subarray(after, after + n), after + n + 2];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, after];
      const items = [];
      let p = after;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        items.push(r[0]);
        p = r[1];
      }
      return [items, p];
    }
    default:
      throw new Error(`unexpected RESP byte ${JSON.stringify(kind)}`);
  }
}

export class RedisError extends Error {}

export class RedisClient {
  static async connect(socketPath) {
    const sock = net.createConnection(socketPath);
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    return new RedisClient(sock);
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    sock.on('data', (chunk) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (;;) {
        if (this.waiting.length === 0) break;
        const r = parseReply(this.buf, 0);
        if (!r) break;
        this.buf = this.buf.subarray(r[1]);
        const { resolve, reject } = this.waiting.shift();
        if (r[0] instanceof RedisError) reject(r[0]);
        else resolve(r[0]);
      }
    });
    sock.on('error', (err) => {
      for (const w of this.waiting.splice(0)) w.reject(err);
    });
  }

  // command('GET', 'k') → Buffer | string | number | array | null
  command(...args) {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(`$${b.length}\r\n`, b, '\r\n');
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p)))));
    });
  }

  // Every key and everything stored under it, as one Buffer: key name, then the value of each
  // data type flattened. Scans with SCAN so the test sees exactly what a dump would.
  async dumpAll() {
    const out = [];
    const flat = (v) => {
      if (v === null || v === undefined) return;
      if (Array.isArray(v)) v.forEach(flat);
      else out.push(Buffer.isBuffer(v) ? v : Buffer.from(String(v)), Buffer.from('\n'));
    };
    let cursor = '0';
    const keys = [];
    do {
      const [next, batch] = await this.command('SCAN', cursor, 'COUNT', 1000);
      cursor = next.toString();
      keys.push(...batch);
    } while (cursor !== '0');
    for (const key of keys) {
      flat(key);
      const type = (await this.command('TYPE', key)).toString();
      if (type === 'string') flat(await this.command('GET', key));
      else if (type === 'hash') flat(await this.command('HGETALL', key));
      else if (type === 'list') flat(await this.command('LRANGE', key, 0, -1));
      else if (type === 'set') flat(await this.command('SMEMBERS', key));
      else if (type === 'zset') flat(await this.command('ZRANGE', key, 0, -1, 'WITHSCORES'));
      else if (type === 'stream') flat(await this.command('XRANGE', key, '-', '+'));
    }
    return { keys: keys.map((k) => k.toString()), bytes: Buffer.concat(out) };
  }

  close() {
    this.sock.end();
  }
}
