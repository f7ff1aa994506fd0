#!/usr/bin/env bash
# cluster.sh — a local TLS cluster on one machine: Redis (AOF, deploy/redis/redis.conf), N
# kindred-server instances on loopback, and nginx in front with TLS from a self-signed
# certificate (deploy/nginx/kindred-locations.conf). Everything runs as the invoking user with
# its state in one folder (default .cluster/, ignored by git); no system service is touched.
# Dev mode, like `make run`: the demo staff accounts are (re)created and printed.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/local/cluster.sh [options] up|down|status

  up       start Redis, the instances and nginx; wait until /readyz answers through nginx;
           print the URL. Already up: prints the status and exits 0.
  down     stop nginx, then each instance (SIGTERM: it drains), then Redis; keeps the data
           and the certificate in the state folder (delete the folder to start afresh).
  status   what runs, on which port, and whether each instance is ready. Exit 0 when all is up.

Options (and the environment variables that set them):
  --state DIR        state folder             KINDRED_CLUSTER_STATE       (.cluster)
  --instances N      kindred-server instances KINDRED_CLUSTER_INSTANCES   (3; 1 to 9)
  --https-port P     nginx TLS port           KINDRED_CLUSTER_HTTPS_PORT  (8443)
  --http-port P      nginx port that redirects to TLS
                                              KINDRED_CLUSTER_HTTP_PORT   (8880)
  --build-dir DIR    where bin/kindred-server and bin/kindredctl are
                                              KINDRED_CLUSTER_BUILD_DIR   (build/dev)
  -h, --help         this help

The instances listen on free loopback ports (see `status`); only nginx is meant to be used.
Relative paths are from the repository's root. Needs redis-server, redis-cli, nginx, openssl
and curl (scripts/install-deps.sh installs them).
EOF
}

die() {
  echo "cluster: $*" >&2
  exit 1
}

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
state=${KINDRED_CLUSTER_STATE:-.cluster}
instances=${KINDRED_CLUSTER_INSTANCES:-3}
https_port=${KINDRED_CLUSTER_HTTPS_PORT:-8443}
http_port=${KINDRED_CLUSTER_HTTP_PORT:-8880}
build_dir=${KINDRED_CLUSTER_BUILD_DIR:-build/dev}
command=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --state) state=${2:?--state needs a folder}; shift 2 ;;
    --instances) instances=${2:?--instances needs a number}; shift 2 ;;
    --https-port) https_port=${2:?--https-port needs a port}; shift 2 ;;
    --http-port) http_port=${2:?--http-port needs a port}; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift 2 ;;
    up | down | status)
      [[ -z $command ]] || die "one command at a time (got $command and $1)"
      command=$1; shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $command ]] || { usage >&2; exit 2; }
[[ $instances =~ ^[1-9]$ ]] || die "--instances: expected 1 to 9, got \"$instances\""
for p in "$https_port" "$http_port"; do
  [[ $p =~ ^[0-9]+$ && $p -ge 1 && $p -le 65535 ]] || die "bad port: \"$p\""
done
[[ $https_port != "$http_port" ]] || die "--https-port and --http-port must differ"

if [[ $command != up && ! -d $state ]]; then
  echo "cluster: not running (no state folder $state)"
  [[ $command == down ]] && exit 0
  exit 1
fi
mkdir -p "$state"
state=$(cd "$state" && pwd)
sock=$state/redis.sock
ngx=$state/nginx
cert=$ngx/tls/cert.pem
key=$ngx/tls/key.pem

# A process that exited but is not reaped yet (a zombie, until init collects it) counts as gone.
running() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $stat != Z* ]]
}
alive() { [[ -f $1 ]] && running "$(cat "$1")"; }

# Waits until process $1 is gone, at most $2 tenths of a second. Returns 1 if it is still there.
wait_gone() {
  local pid=$1 tenths=$2
  for ((i = 0; i < tenths; i++)); do
    running "$pid" || return 0
    sleep 0.1
  done
  ! running "$pid"
}

# SIGTERM, wait, then SIGKILL: $1 pid file, $2 name, $3 tenths of a second to wait.
stop_pid_file() {
  local file=$1 name=$2 tenths=$3 pid
  [[ -f $file ]] || return 0
  pid=$(cat "$file")
  if running "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$tenths"; then
      echo "cluster: $name (pid $pid) did not stop in time; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 20 || true
    fi
  fi
  rm -f "$file"
}

instance_ports() {
  local n
  for ((n = 1; n <= instances; n++)); do
    [[ -s $state/inst-$n.port ]] && cat "$state/inst-$n.port"
  done
}

# What `up` started (instances and ports) is what status and down look at.
load_saved() {
  if [[ -f $state/cluster.env ]]; then
    instances=$(sed -n 's/^instances=//p' "$state/cluster.env")
    https_port=$(sed -n 's/^https_port=//p' "$state/cluster.env")
    http_port=$(sed -n 's/^http_port=//p' "$state/cluster.env")
  fi
}

cmd_status() {
  local ok=0 n port ready
  if alive "$state/redis.pid"; then
    echo "redis      pid $(cat "$state/redis.pid")  unix:$sock"
  else
    echo "redis      stopped"; ok=1
  fi
  for ((n = 1; n <= instances; n++)); do
    if alive "$state/inst-$n.pid"; then
      port=$(cat "$state/inst-$n.port" 2>/dev/null || echo "?")
      ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz" || true)
      echo "local-$n    pid $(cat "$state/inst-$n.pid")  http://127.0.0.1:$port  readyz $ready"
      [[ $ready == 200 ]] || ok=1
    else
      echo "local-$n    stopped"; ok=1
    fi
  done
  if alive "$ngx/nginx.pid"; then
    echo "nginx      pid $(cat "$ngx/nginx.pid")  https://localhost:$https_port/  (http://localhost:$http_port/ redirects)"
  else
    echo "nginx      stopped"; ok=1
  fi
  return $ok
}

cmd_down() {
  # nginx first, so no new connection reaches an instance that is draining.
  if alive "$ngx/nginx.pid"; then
    local master
    master=$(cat "$ngx/nginx.pid")
    kill -QUIT "$master" 2>/dev/null || true # graceful: finish requests, close sockets
    if ! wait_gone "$master" 50; then
      kill -TERM "$master" 2>/dev/null || true
      wait_gone "$master" 30 || kill -KILL "$master" 2>/dev/null || true
    fi
  fi
  rm -f "$ngx/nginx.pid"
  # Every instance drains in parallel (close 1012, release sessions, DEL inst:{id}); each
  # exits within shutdown_grace_s + 1 s (5 + 1 by default).
  local n pids=()
  for ((n = 1; n <= 9; n++)); do
    if alive "$state/inst-$n.pid"; then
      kill -TERM "$(cat "$state/inst-$n.pid")" 2>/dev/null || true
      pids+=("$n")
    fi
  done
  for n in "${pids[@]}"; do stop_pid_file "$state/inst-$n.pid" "local-$n" 80; done
  rm -f "$state"/inst-*.pid "$state"/inst-*.port
  # Redis last: SIGTERM makes it flush the AOF and exit.
  stop_pid_file "$state/redis.pid" redis 100
  rm -f "$sock"
  echo "cluster: stopped (data and certificate kept in $state)"
}

need() {
  local missing=()
  for tool in redis-server redis-cli nginx openssl curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [[ ${#missing[@]} -eq 0 ]] || die "missing: ${missing[*]} (run scripts/install-deps.sh as root)"
  for bin in kindred-server kindredctl; do
    [[ -x $build_dir/bin/$bin ]] || die "$build_dir/bin/$bin not found: build first (make build)"
  done
}

make_certificate() {
  [[ -s $cert && -s $key ]] && return 0
  mkdir -p "$ngx/tls"
  chmod 700 "$ngx/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$key" -out "$cert" >/dev/null 2>&1 || die "openssl could not make the certificate"
  chmod 600 "$key"
  echo "cluster: made a self-signed certificate for localhost: $cert"
}

write_nginx_conf() {
  local upstreams="" port user=""
  for port in $(instance_ports); do
    upstreams+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
  done
  # As root nginx's workers switch to an unprivileged user; they never touch the state folder
  # (no temp files: small bodies, proxy_max_temp_file_size 0).
  [[ $(id -u) -eq 0 ]] && user="user nobody nogroup;"
  mkdir -p "$ngx/temp"
  cat >"$ngx/nginx.conf" <<EOF
# Generated by deploy/local/cluster.sh — edit the script or deploy/nginx/, not this file.
$user
worker_processes 2;
pid $ngx/nginx.pid;
# crit only: nginx's error lines name the client's address (never logged by Kindred).
error_log $ngx/error.log crit;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    client_max_body_size 16k;
    client_body_buffer_size 16k;
    client_body_temp_path $ngx/temp/body;
    proxy_temp_path $ngx/temp/proxy;
    fastcgi_temp_path $ngx/temp/fastcgi;
    uwsgi_temp_path $ngx/temp/uwsgi;
    scgi_temp_path $ngx/temp/scgi;

    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      close;
    }
    limit_req_zone \$binary_remote_addr zone=kindred_login:1m rate=10r/m;

    upstream kindred {
$upstreams        keepalive 16;
    }

    server {
        listen 127.0.0.1:$http_port;
        location / {
            return 301 https://\$host:$https_port\$request_uri;
        }
    }

    server {
        listen 127.0.0.1:$https_port ssl;
        server_name localhost;
        ssl_certificate     $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:kindred_tls:1m;
        include $root/deploy/nginx/kindred-locations.conf;
    }
}
EOF
}

any_alive() {
  local f
  for f in "$state/redis.pid" "$ngx/nginx.pid" "$state"/inst-*.pid; do
    alive "$f" && return 0
  done
  return 1
}

up_done=0
on_up_exit() {
  [[ $up_done == 1 ]] && return 0
  echo "cluster: start-up failed; stopping what was started" >&2
  cmd_down >/dev/null 2>&1 || true
}

cmd_up() {
  need
  if any_alive; then
    load_saved
    if cmd_status >/dev/null; then
      cmd_status
      echo "cluster: already up: https://localhost:$https_port/"
      return 0
    fi
    cmd_status || true
    die "partly running; run \`$0 --state $state down\` first"
  fi
  # Left by processes that died without `down` (a reboot): nothing of them runs any more.
  rm -f "$state"/*.pid "$state"/inst-*.port "$ngx/nginx.pid"
  printf 'instances=%s\nhttps_port=%s\nhttp_port=%s\n' "$instances" "$https_port" "$http_port" \
    >"$state/cluster.env"
  # Anything failing from here stops what was started.
  trap on_up_exit EXIT

  mkdir -p "$state/redis"
  rm -f "$sock"
  setsid redis-server deploy/redis/redis.conf --port 0 --unixsocket "$sock" --unixsocketperm 700 \
    --dir "$state/redis" --daemonize no \
    --logfile "$state/redis.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$state/redis.pid"
  for _ in $(seq 100); do
    [[ -S $sock ]] && redis-cli -s "$sock" ping >/dev/null 2>&1 && break
    alive "$state/redis.pid" || { tail -5 "$state/redis.log" >&2; die "redis-server failed ($state/redis.log)"; }
    sleep 0.05
  done
  redis-cli -s "$sock" ping >/dev/null 2>&1 || die "redis-server did not answer ($state/redis.log)"

  # Demo staff accounts (dev mode; kindredctl refuses demo-seed without --dev). Reset on every
  # start, so their passwords are always the printed ones.
  local demo
  demo=$("$build_dir/bin/kindredctl" --dev --config config/kindred.sample.json \
    --redis "unix:$sock" demo-seed) || die "kindredctl demo-seed failed"

  local n
  for ((n = 1; n <= instances; n++)); do
    rm -f "$state/inst-$n.port"
    setsid "$build_dir/bin/kindred-server" --config config/kindred.sample.json --dev \
      --redis "unix:$sock" --listen 127.0.0.1:0 --port-file "$state/inst-$n.port" \
      --instance-id "local-$n" --web-root web \
      --allowed-origin "https://localhost:$https_port" \
      --login-failures-per-address 1000000 \
      </dev/null >>"$state/inst-$n.log" 2>&1 &
    echo $! >"$state/inst-$n.pid"
  done
  for ((n = 1; n <= instances; n++)); do
    for _ in $(seq 200); do
      [[ -s $state/inst-$n.port ]] && break
      alive "$state/inst-$n.pid" || { tail -5 "$state/inst-$n.log" >&2; die "local-$n exited ($state/inst-$n.log)"; }
      sleep 0.05
    done
    [[ -s $state/inst-$n.port ]] || die "local-$n did not start listening ($state/inst-$n.log)"
  done

  make_certificate
  write_nginx_conf
  nginx -t -q -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" 2>"$ngx/test.log" ||
    { cat "$ngx/test.log" >&2; die "nginx rejected $ngx/nginx.conf"; }
  nginx -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" ||
    { tail -5 "$ngx/error.log" >&2; die "nginx failed to start ($ngx/error.log)"; }

  # Ready when every instance says so, and nginx passes /readyz through over TLS.
  local url="https://localhost:$https_port" port code ready=0
  for _ in $(seq 150); do
    ready=1
    for port in $(instance_ports); do
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/readyz" || true)
      [[ $code == 200 ]] || ready=0
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert "$cert" "$url/readyz" || true)
    [[ $code == 200 ]] || ready=0
    [[ $ready == 1 ]] && break
    sleep 0.1
  done
  [[ $ready == 1 ]] || { cmd_status >&2 || true; die "not ready after 15 s (logs in $state)"; }
  up_done=1

  echo
  cmd_status
  echo
  echo "cluster: serving $url/  (WebSocket: wss://localhost:$https_port/v1/ws)"
  echo "cluster: the certificate is self-signed: accept it in the browser, or pass curl --cacert $cert"
  echo "cluster: peers $url/staff, moderators $url/moderation; stop with: make cluster-down"
  while IFS= read -r line; do echo "cluster: $line"; done <<<"$demo"
}

case "$command" in
  up) cmd_up ;;
  down) load_saved; cmd_down ;;
  status) load_saved; cmd_status ;;
esac
