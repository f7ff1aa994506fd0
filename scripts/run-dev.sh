#!/usr/bin/env bash
# run-dev.sh — `make run`: one kindred-server in dev mode with its own redis-server.
# Redis keeps its data in ./state (git ignores it) and listens only on a unix socket there;
# both processes stop together when you press Ctrl-C or the server exits. Dev mode only: the
# demo staff accounts are (re)created with `kindredctl --dev demo-seed` and their credentials
# printed. Nothing else ever creates demo accounts.
# Usage: scripts/run-dev.sh BUILD_DIR   (env: KINDRED_LISTEN, default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/dev}
state=$PWD/state
mkdir -p "$state"
socket=$state/redis.sock
listen=${KINDRED_LISTEN:-127.0.0.1:8080}

# A redis-server left over from an earlier run that was killed hard: stop it first.
if [[ -f $state/redis.pid ]] && kill -0 "$(cat "$state/redis.pid")" 2>/dev/null; then
  kill "$(cat "$state/redis.pid")" 2>/dev/null || true
  sleep 0.5
fi
rm -f "$socket"

redis-server --port 0 --unixsocket "$socket" --unixsocketperm 700 --dir "$state" \
  --appendonly yes --appendfsync everysec --save "" --daemonize no \
  --pidfile "$state/redis.pid" --logfile "$state/redis.log" &
redis_pid=$!
server_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  kill -TERM "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  echo "kindred: stopped (Redis data kept in state/)"
}
trap cleanup EXIT INT TERM

for _ in $(seq 100); do
  [[ -S $socket ]] && redis-cli -s "$socket" ping >/dev/null 2>&1 && break
  kill -0 "$redis_pid" 2>/dev/null || { echo "redis-server failed; see state/redis.log" >&2; exit 1; }
  sleep 0.05
done

# Demo staff accounts (dev mode only: kindredctl refuses demo-seed without --dev). Reset on
# every start, so their passwords are always the printed ones.
demo=$("$build_dir/bin/kindredctl" --dev --config config/kindred.sample.json \
  --redis "unix:$socket" demo-seed) || { echo "kindredctl demo-seed failed" >&2; exit 1; }

port_file=$state/port
rm -f "$port_file"
"$build_dir/bin/kindred-server" --config config/kindred.sample.json --dev \
  --redis "unix:$socket" --listen "$listen" --web-root web --port-file "$port_file" &
server_pid=$!
for _ in $(seq 200); do
  [[ -s $port_file ]] && break
  kill -0 "$server_pid" 2>/dev/null || { wait "$server_pid" || true; exit 1; }
  sleep 0.05
done
host=${listen%:*}
echo
echo "kindred: serving http://$host:$(cat "$port_file")/  (WebSocket: ws://$host:$(cat "$port_file")/v1/ws)"
echo "kindred: Redis on unix:$socket — press Ctrl-C to stop both"
echo "kindred: seekers open the URL above (a phone-sized window); peers http://$host:$(cat "$port_file")/staff, moderators http://$host:$(cat "$port_file")/moderation"
echo "kindred: manage staff accounts with ./kindredctl"
echo "$demo" | sed 's/^/kindred: /'
echo
wait "$server_pid"
