// server.mjs — the relay benchmark's Socket.IO peer: Socket.IO 4 with @socket.io/redis-adapter
// (ioredis pub and sub clients), WebSocket transport only, relaying the same pairs and payload
// sizes as the Kindred relay scenario, driven by ./generator.mjs. Single process, single thread.
//
// Events:
//   join(conv, ack)        → socket.join(`conv:<conv>`), ack({ok: true})
//   send({conv, body}, ack) → HINCRBY conv:<conv>:meta last_offset (offsets 1, 2, 3, …),
//                            XADD conv:<conv> <offset>-0 … body (store), ack({offset}),
//                            socket.to(`conv:<conv>`).emit('message', {conv, offset, body})
// The broadcast goes through the adapter: it PUBLISHes the packet on Redis (for the other
// instances; this instance's subscriber gets it back and skips it by its uid) and delivers to
// this instance's sockets in the room directly. So Redis does HINCRBY + XADD + PUBLISH per
// message, as for the other servers, but local delivery does not wait for the pub/sub round
// trip — that is how the adapter works, not a shortcut taken here.
// No auth, no rate limits, no moderation; the body is opaque (the generator's stand-in for
// Kindred's ciphertext).
//
// Usage: node server.mjs --listen 127.0.0.1:PORT --redis /path/redis.sock|host:port
// Prints `listening <port>` on stdout when ready (PORT 0 picks a free port). SIGTERM or SIGINT
// closes every socket and exits 0.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

import { logRedisErrors, parseArgs, parseListen, redisOptions, waitForRedis } from '../lib/common.mjs';

const usage = `Usage: node bench/peers/socketio/server.mjs --listen HOST:PORT --redis REDIS

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
  process.stderr.write(`socketio: ${e.message}\n${usage}`);
  process.exit(2);
}

const redis = new Redis(args.redisAt); // commands (store)
const pubClient = new Redis(args.redisAt); // the adapter's
const subClient = pubClient.duplicate();
logRedisErrors('socketio', [redis, pubClient, subClient]);

async function main() {
  try {
    await waitForRedis([redis, pubClient, subClient]);
  } catch (e) {
    console.error(`socketio: cannot reach Redis: ${e.message}`);
    process.exit(3);
  }
  const httpServer = createServer();
  const io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false,
    adapter: createAdapter(pubClient, subClient),
  });

  io.on('connection', (socket) => {
    socket.on('join', (conv, ack) => {
      socket.join(`conv:${conv}`);
      if (typeof ack === 'function') ack({ ok: true });
    });

    socket.on('send', async (msg, ack) => {
      if (typeof ack !== 'function') return;
      if (!msg || typeof msg.body !== 'string' || msg.conv === undefined) {
        return ack({ error: 'bad_message' });
      }
      const room = `conv:${msg.conv}`;
      try {
        const offset = await redis.hincrby(`${room}:meta`, 'last_offset', 1);
        await redis.xadd(room, `${offset}-0`, 'from', socket.id, 'sent_at', String(Date.now()),
          'body', msg.body);
        ack({ offset });
        socket.to(room).emit('message', { conv: msg.conv, offset, body: msg.body });
      } catch {
        ack({ error: 'unavailable' });
      }
    });
  });

  httpServer.on('error', (e) => {
    console.error(`socketio: ${e.message}`);
    process.exit(3);
  });
  httpServer.listen(args.listenAt.port, args.listenAt.host, () => {
    process.stdout.write(`listening ${httpServer.address().port}\n`);
  });

  const stop = () => {
    io.close(); // disconnects every socket and closes the HTTP server
    Promise.allSettled([redis.quit(), pubClient.quit(), subClient.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
