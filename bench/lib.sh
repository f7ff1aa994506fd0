# lib.sh — what bench/run.sh and bench/compare.sh share, sourced (not run): the core pinning,
# a private redis-server, a kindred-server with benchmark limits, and stopping a process.
# Every function reports trouble on stderr and returns non-zero; the caller decides to exit.
# Variables the caller sets first: root (the project folder), tmp (a private folder).
# shellcheck shell=bash

# The folder holding kindred-server and kindred-bench: $1 if given, else the first of
# build/release/bin, build/h/bin, build/dev/bin that has both. Prints it; fails when none.
bench_find_bin() {
    local d
    if [[ -n ${1:-} ]]; then
        if [[ -x $1/kindred-server && -x $1/kindred-bench ]]; then echo "$1"; return 0; fi
        return 1
    fi
    for d in build/release/bin build/h/bin build/dev/bin; do
        if [[ -x $root/$d/kindred-server && -x $root/$d/kindred-bench ]]; then
            echo "$root/$d"
            return 0
        fi
    done
    return 1
}

# Pinning with taskset when there are ≥ 2 cores and $1 = yes: the server on core 0, the
# generator on core 1; with ≥ 3 cores Redis gets core 1 and the generator the rest, with 2
# Redis is not pinned (it shares with both). Sets server_cpus, redis_cpus, bench_cpus (empty:
# not pinned).
bench_plan_pinning() {
    local cores
    cores=$(nproc)
    server_cpus="" redis_cpus="" bench_cpus=""
    if [[ $1 == yes && $cores -ge 2 ]] && command -v taskset >/dev/null; then
        server_cpus=0
        if [[ $cores -ge 3 ]]; then
            redis_cpus=1
            bench_cpus=2-$((cores - 1))
        else
            bench_cpus=1
        fi
    fi
}

count_cpus() { # "2-5" → 4, "1" → 1
    local a=${1%-*} b=${1#*-}
    echo $((b - a + 1))
}

# The command prefix that pins to CPUS (empty when not pinning). A prefix, not a function: a
# function run with & is a subshell, and $! would be the subshell's pid, not the program's
# (taskset execs the program, so with the prefix $! is the program's own pid).
pin_prefix() {
    if [[ -n ${1:-} ]]; then echo "taskset -c $1"; fi
}

# Stops PID: TERM, up to 5 s, then KILL. Quiet when it is already gone.
bench_stop_pid() {
    local pid=${1:-}
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# A private redis-server in $tmp: no snapshots; AOF only when $1 = yes (appendfsync always);
# on 127.0.0.1:$2 when $2 is set, else on the unix socket $tmp/redis.sock. Pinned to
# $redis_cpus. Sets redis_pid and redis_addr (unix:/path or tcp://host:port) and
# redis_cli_args (for redis-cli and redis-benchmark).
bench_start_redis() {
    local aof=$1 port=${2:-}
    local args=(--dir "$tmp" --save "" --logfile "$tmp/redis.log" --daemonize no)
    if [[ -n $port ]]; then
        args+=(--port "$port" --bind 127.0.0.1)
        redis_addr="tcp://127.0.0.1:$port"
        redis_cli_args=(-h 127.0.0.1 -p "$port")
    else
        args+=(--port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700)
        redis_addr="unix:$tmp/redis.sock"
        redis_cli_args=(-s "$tmp/redis.sock")
    fi
    if [[ $aof == yes ]]; then
        args+=(--appendonly yes --appendfsync always)
    else
        args+=(--appendonly no)
    fi
    $(pin_prefix "$redis_cpus") redis-server "${args[@]}" &
    redis_pid=$!
    for _ in $(seq 100); do
        redis-cli "${redis_cli_args[@]}" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "redis-server did not start:" >&2
    tail -20 "$tmp/redis.log" >&2 || true
    return 1
}

# One kindred-server from $bin on 127.0.0.1 (a free port), Redis $redis_addr, the benchmark
# catalog (tag grief, language en), log level warn, and per-connection limits raised for a
# load generator. Pinned to $server_cpus with --threads $1. Log: $tmp/server.log (appended).
# Sets server_pid and port; waits for /readyz.
bench_start_kindred() {
    local threads=$1
    cat >"$tmp/kindred.json" <<'JSON'
{
  // Written by the bench scripts: the catalog kindred-bench uses (--tag grief, --language en).
  "languages": [{"id": "en", "label": "English"}],
  "tags": [{"id": "grief", "labels": {"en": "Grief and loss"}}]
}
JSON
    rm -f "$tmp/port"
    # From the project folder: the server reads moderation/lexicon/lexicon.json from there.
    (cd "$root" && exec $(pin_prefix "$server_cpus") "$bin/kindred-server" \
        --config "$tmp/kindred.json" --redis "$redis_addr" \
        --listen 127.0.0.1:0 --port-file "$tmp/port" --instance-id "bench-$$" \
        --threads "$threads" --log-level warn --web-root "$tmp/web" --shutdown-grace-s 1 \
        --messages-per-second 100000 --message-burst 1000000 \
        --send-per-minute 1000000 --send-burst 100000 \
        --request-match-per-minute 1000000 --request-match-burst 100000 \
        --max-rate-limited 100000) >>"$tmp/server.log" 2>&1 &
    server_pid=$!
    port=""
    for _ in $(seq 200); do
        if [[ -s $tmp/port ]]; then port=$(<"$tmp/port"); fi
        if [[ -n $port ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "kindred-server did not become ready:" >&2
    tail -20 "$tmp/server.log" >&2 || true
    return 1
}

# Starts "$@" in the background with stdout to FILE ($1) and waits (up to 20 s) until it
# prints `listening <port>`. Sets listen_pid and listen_port. The command may start with a
# taskset prefix; the pid is then still the program's.
bench_start_listening() {
    local out=$1
    shift
    "$@" >"$out" 2>&1 &
    listen_pid=$!
    listen_port=""
    for _ in $(seq 400); do
        listen_port=$(sed -n 's/^listening \([0-9][0-9]*\).*/\1/p' "$out" | head -1)
        [[ -n $listen_port ]] && return 0
        kill -0 "$listen_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$* did not print 'listening <port>':" >&2
    tail -20 "$out" >&2 || true
    return 1
}
