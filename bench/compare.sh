#!/usr/bin/env bash
# compare.sh — every figure of issue #7 side by side in one run, on one private redis-server
# and with the same core pinning: (a) the redis-benchmark ceiling, (b) the bare Beast echo
# ceiling, (c) Kindred relay at a ladder of offered loads and closed loop, (d) the Node
# ws+ioredis peer and (e) Socket.IO at the same loads, (f) idle, (g) match, (h) storm. Every
# JSON goes to bench/results/compare-<date>/, with summary.md (figures, goals, ratios) and the
# latency plot (docs/performance/latency-vs-load.svg).
# Usage: bench/compare.sh [--quick] [options]   (see --help)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'USAGE'
Usage: bench/compare.sh [options]

Runs, in sequence, against one private redis-server (AOF off, no snapshots):
  a. bench/redis-ceiling.sh: redis-benchmark with the Redis work of one relayed message
  b. kindred-bench --scenario echo against kindred-bench-echo, at every offered load
  c. kindred-bench --scenario relay against kindred-server, at every offered load
  d. the same relay runs against the Node ws+ioredis peer (bench/peers/ws-ioredis)
  e. Socket.IO (bench/peers/socketio) with its own generator, at the same loads
  f. idle: --idle connections, server memory per connection
  g. match: 1,000 peers on shift, seekers at 500/s
  h. storm: --storm clients dropped at once
Every load runs open loop (--rate) and once closed loop (as fast as acks allow, "max"); half
the redis-benchmark ceiling is added to the loads (the p99 goal is stated there). Results:
one JSON per run, logs/, summary.md and the plot, in the output folder.

Options:
  --quick              seconds per run and small numbers: for trying it out, not for figures
  --skip-peers         skip (d) and (e)
  --peers-dir DIR      where the peers are (default bench/peers)
  --loads L1,L2,...    offered loads in msgs/s (default 1000,2000,5000,10000,20000)
  --duration S         measured seconds per relay/echo run (default 10; --quick 2)
  --pairs M            pairs in relay and echo runs (default 200; --quick 20)
  --size B             plaintext bytes per message (default 100)
  --idle N             idle connections (default 100000; --quick 500)
  --storm N            storm clients (default 20000; --quick 200)
  --build-dir DIR      the build folder (default build/release; binaries in DIR/bin)
  --out DIR            the output folder (default bench/results/compare-<UTC date>)
  --no-plot            do not write docs/performance/latency-vs-load.svg
  --no-pin             do not pin with taskset
  -h, --help           this help

Pinning (2 cores): every server (kindred-server, the echo, the Node peers) on core 0 with one
thread, every generator (kindred-bench, redis-benchmark, the Socket.IO generator) on core 1,
Redis unpinned; with 3 or more cores Redis gets core 1 and generators the rest.
Open files: 100k idle connections and a 20k storm need a hard nofile limit above 20,000. As
root the script raises it (ulimit -Hn, up to fs.nr_open); otherwise runs above the limit are
skipped with a message.

Exit code: 0 every run passed its checks, 1 a run failed (see summary.md and logs/), 2 usage,
3 set-up failed (missing binaries, Redis did not start).
USAGE
}

command_line="bench/compare.sh $*"
quick=no skip_peers=no loads="" duration="" pairs="" size=100 idle_n="" storm_n=""
build_dir="$root/build/release" out="" plot=yes pin=yes peers="$root/bench/peers"
while [[ $# -gt 0 ]]; do
    case $1 in
    --quick) quick=yes; shift ;;
    --skip-peers) skip_peers=yes; shift ;;
    --peers-dir) peers=$2; shift 2 ;;
    --loads) loads=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --idle) idle_n=$2; shift 2 ;;
    --storm) storm_n=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-plot) plot=no; shift ;;
    --no-pin) pin=no; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ $quick == yes ]]; then
    : "${loads:=500,1000}" "${duration:=2}" "${pairs:=20}" "${idle_n:=500}" "${storm_n:=200}"
    warmup=0.5 match_peers=50 match_rate=50 match_duration=2 ceiling_requests=20000
    idle_duration=1 setup_rate=200
else
    : "${loads:=1000,2000,5000,10000,20000}" "${duration:=10}" "${pairs:=200}"
    : "${idle_n:=100000}" "${storm_n:=20000}"
    warmup=2 match_peers=1000 match_rate=500 match_duration=10 ceiling_requests=200000
    idle_duration=10 setup_rate=500
fi
[[ $loads =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "compare.sh: --loads must be numbers separated by commas" >&2; exit 2; }
for n in "$pairs" "$size" "$idle_n" "$storm_n"; do
    [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "compare.sh: --pairs, --size, --idle, --storm must be positive" >&2; exit 2; }
done
[[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "compare.sh: --duration must be seconds" >&2; exit 2; }

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bin=$build_dir/bin
for b in kindred-server kindred-bench kindred-bench-echo; do
    if [[ ! -x $bin/$b ]]; then
        echo "compare.sh: $bin/$b is missing; build it: cmake --build $build_dir --target" \
            "kindred-server kindred-bench kindred-bench-echo" >&2
        exit 3
    fi
done
for t in redis-server redis-cli redis-benchmark curl python3; do
    command -v "$t" >/dev/null || { echo "compare.sh: $t is not installed" >&2; exit 3; }
done
[[ -n $out ]] || out="$root/bench/results/compare-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)

say() { echo "compare: $*" >&2; }

# ---- open files ----------------------------------------------------------------------------
nofile_note=""
if [[ $(id -u) -eq 0 ]]; then
    want=1048576
    nr_open=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo "$want")
    ((want <= nr_open)) || want=$nr_open
    if ulimit -Hn "$want" 2>/dev/null && ulimit -n "$want" 2>/dev/null; then
        nofile_note="raised to $want (root)"
    else
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
        # e.g. a container without CAP_SYS_RESOURCE: root, but the hard limit is fixed.
        nofile_note="$(ulimit -Hn): root, but the hard limit could not be raised (no CAP_SYS_RESOURCE?)"
    fi
else
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    nofile_note="$(ulimit -Hn) (not root: not raised)"
fi
nofile=$(ulimit -n)
say "open files: $nofile_note"

bench_plan_pinning "$pin"
server_threads=1
[[ -n $server_cpus ]] || server_threads=0
bench_threads=1
if [[ -n $bench_cpus ]]; then bench_threads=$(count_cpus "$bench_cpus"); fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kindred-compare.XXXXXX")
redis_pid="" server_pid="" listen_pid="" step_pid=""
cleanup() {
    local rc=$?
    if [[ -n $step_pid ]]; then bench_stop_pid "$step_pid"; fi
    bench_stop_pid "$listen_pid"
    bench_stop_pid "$server_pid"
    bench_stop_pid "$redis_pid"
    cp "$tmp"/*.log "$out/logs/" 2>/dev/null || true
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_start_redis no "" || { echo "compare.sh: redis-server did not start" >&2; exit 3; }
say "redis pid $redis_pid ($redis_addr), server cpus ${server_cpus:-any}, generator cpus" \
    "${bench_cpus:-any}, output $out"
redis_sock=${redis_addr#unix:}

# Records the run's set-up for summary.md.
cat >"$out/run.json" <<JSON
{"started_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "quick": $([[ $quick == yes ]] && echo true || echo false),
 "command": "$command_line", "cores": $(nproc), "kernel": "$(uname -r)",
 "cpu_model": "$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)",
 "build_dir": "${build_dir#"$root"/}", "server_cpus": "${server_cpus:-any}", "bench_cpus": "${bench_cpus:-any}",
 "server_threads": $server_threads, "bench_threads": $bench_threads,
 "pairs": $pairs, "size": $size, "duration": $duration, "warmup": $warmup, "nofile": $nofile,
 "nofile_note": "$nofile_note", "loads": [$loads]}
JSON

failed=0 step_rc=0
failures=()
# Runs "$@" (stdout and stderr to logs/NAME.log), printing its latest progress line every 5 s.
# A failure is recorded and the comparison goes on.
step() {
    local name=$1
    shift
    local log="$out/logs/$name.log" rc=0 ticks=0
    say "$name: started"
    "$@" >"$log" 2>&1 &
    step_pid=$!
    while kill -0 "$step_pid" 2>/dev/null; do
        sleep 1
        ticks=$((ticks + 1))
        if ((ticks % 5 == 0)); then
            local last
            last=$(tr '\r' '\n' <"$log" | grep -v '^$' | tail -1 || true)
            [[ -z $last ]] || say "$name: ${last:0:160}"
        fi
    done
    wait "$step_pid" || rc=$?
    step_pid=""
    step_rc=$rc
    if [[ $rc -ne 0 ]]; then
        failed=1
        failures+=("$name (exit $rc)")
        say "$name: FAILED (exit $rc), see logs/$name.log"
        tail -5 "$log" | sed 's/^/    /' >&2
        return 0
    fi
    say "$name: done$(result_line "$out/$name.json")"
}

# " — 1234 msgs/s, p99 1.2 ms, 5.6 us/msg" from a result file, for the progress lines.
result_line() {
    [[ -s $1 ]] || return 0
    python3 - "$1" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1])).get("results", {})
parts = []
if "delivered_per_second" in r: parts.append(f"{r['delivered_per_second']:.0f} msgs/s")
lat = r.get("latency") or r.get("match_latency") or r.get("resume_latency")
if lat: parts.append(f"p99 {lat.get('p99_ms', 0):.2f} ms")
if "server_cpu_us_per_message" in r: parts.append(f"{r['server_cpu_us_per_message']:.1f} us/msg")
if "server_rss_per_connection_bytes" in r: parts.append(f"{r['server_rss_per_connection_bytes']:.0f} B/conn")
if "all_resumed_seconds" in r: parts.append(f"all resumed in {r['all_resumed_seconds']:.2f} s")
if "messages_per_second_pipelined" in r: parts.append(f"{r['messages_per_second_pipelined']:.0f} msgs/s pipelined")
print(" — " + ", ".join(parts) if parts else "")
PY
}

fresh_redis() { redis-cli "${redis_cli_args[@]}" flushall >/dev/null; }
stop_server() { bench_stop_pid "$server_pid"; server_pid=""; }
stop_listener() { bench_stop_pid "$listen_pid"; listen_pid=""; }

common=(--pairs "$pairs" --size "$size" --warmup "$warmup" --duration "$duration")
gen_opts=(--setup-rate "$setup_rate" --threads "$bench_threads")
# The pinning prefixes of generators and servers (empty when not pinning).
gen=() srv=()
if [[ -n $bench_cpus ]]; then gen=(taskset -c "$bench_cpus"); fi
if [[ -n $server_cpus ]]; then srv=(taskset -c "$server_cpus"); fi

# ---- (a) the Redis ceiling -----------------------------------------------------------------
step redis-ceiling "${gen[@]}" "$root/bench/redis-ceiling.sh" --redis "$redis_sock" \
    --requests "$ceiling_requests" --size "$size" --json "$out/redis-ceiling.json"
half=""
if [[ -s $out/redis-ceiling.json ]]; then
    half=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["results"]["messages_per_second_pipelined"] // 2))' \
        "$out/redis-ceiling.json")
fi
ladder=${loads//,/ }
if [[ -n $half && $half -gt 0 ]]; then
    ladder="$ladder $half"
    echo "$half" >"$out/half-ceiling-load"
    say "half the Redis ceiling: $half msgs/s (added to the loads)"
fi
ladder=$(tr ' ' '\n' <<<"$ladder" | sort -n | uniq | tr '\n' ' ')

# A fresh kindred-server on an empty Redis; kb is then the kindred-bench command against it.
start_kindred() {
    fresh_redis
    if ! bench_start_kindred "$server_threads"; then
        failed=1
        failures+=("kindred-server did not start ($1)")
        return 1
    fi
    kb=("${gen[@]}" "$bin/kindred-bench" --url "ws://127.0.0.1:$port/v1/ws" --redis "$redis_addr"
        --server-pid "$server_pid" --redis-pid "$redis_pid" --threads "$bench_threads"
        --setup-rate "$setup_rate")
}

# One system's ladder: every load, then closed loop ("max"). Each run gets a fresh server on
# an empty Redis: a peer of the previous run stays on shift for its resume grace, and a new
# seeker matched with it would wait for a partner who is gone. START sets `cmd`, the
# generator command without --rate/--window/--json; every server is stopped after each run.
ladder_runs() { # PREFIX START
    local prefix=$1 start=$2 l
    for l in $ladder max; do
        if ! $start; then
            failed=1
            failures+=("$prefix-$l: the server did not start")
            stop_server
            stop_listener
            continue
        fi
        local rate=(--rate "$l" --window 8)
        [[ $l != max ]] || rate=(--rate 0 --window 8)
        step "$prefix-$l" "${cmd[@]}" "${rate[@]}" --json "$out/$prefix-$l.json"
        stop_server
        stop_listener
    done
}

# Each START: a fresh server (pinned to the server cores) and the generator command for it.
start_echo() {
    fresh_redis
    bench_start_listening "$tmp/echo.log" "${srv[@]}" "$bin/kindred-bench-echo" \
        --listen 127.0.0.1:0 --threads "$((server_threads > 0 ? server_threads : $(nproc)))" ||
        return 1
    cmd=("${gen[@]}" "$bin/kindred-bench" --scenario echo --url "ws://127.0.0.1:$listen_port/"
        --server-pid "$listen_pid" "${common[@]}" "${gen_opts[@]}")
}
start_kindred_relay() {
    start_kindred relay || return 1
    cmd=("${kb[@]}" --scenario relay "${common[@]}")
}
start_ws_peer() {
    fresh_redis
    bench_start_listening "$tmp/ws-peer.log" "${srv[@]}" node "$peers/ws-ioredis/server.mjs" \
        --listen 127.0.0.1:0 --redis "$redis_sock" || return 1
    cmd=("${gen[@]}" "$bin/kindred-bench" --scenario relay --url "ws://127.0.0.1:$listen_port/"
        --redis "$redis_addr" --server-pid "$listen_pid" --redis-pid "$redis_pid" "${common[@]}"
        "${gen_opts[@]}")
}
start_socketio() {
    fresh_redis
    bench_start_listening "$tmp/socketio.log" "${srv[@]}" node "$peers/socketio/server.mjs" \
        --listen 127.0.0.1:0 --redis "$redis_sock" || return 1
    cmd=("${gen[@]}" node "$peers/socketio/generator.mjs" --url "http://127.0.0.1:$listen_port"
        --pairs "$pairs" --size "$size" --warmup "$warmup" --duration "$duration"
        --server-pid "$listen_pid" --redis-pid "$redis_pid")
}

# ---- (b) the echo ceiling, (c) Kindred relay -------------------------------------------------
ladder_runs echo start_echo
ladder_runs kindred start_kindred_relay

# ---- (d) the Node ws+ioredis peer and (e) Socket.IO ------------------------------------------
node_ready=no
if [[ $skip_peers == yes ]]; then
    say "peers: skipped (--skip-peers)"
elif ! command -v node >/dev/null; then
    say "peers: skipped: node is not installed"
elif [[ ! -f $peers/install.sh ]]; then
    say "peers: skipped: $peers/install.sh is missing (the peers are not in this tree yet)"
else
    step peers-install bash "$peers/install.sh"
    if [[ $step_rc -eq 0 ]]; then node_ready=yes; fi
fi
if [[ $node_ready == yes ]]; then
    if [[ -f $peers/ws-ioredis/server.mjs ]]; then
        ladder_runs ws start_ws_peer
    else
        say "ws peer: skipped: $peers/ws-ioredis/server.mjs is missing"
    fi
    if [[ -f $peers/socketio/server.mjs && -f $peers/socketio/generator.mjs ]]; then
        ladder_runs socketio start_socketio
    else
        say "Socket.IO: skipped: $peers/socketio/server.mjs or generator.mjs is missing"
    fi
fi

# ---- (f) idle, (g) match, (h) storm ----------------------------------------------------------
# Each side of every connection is a descriptor; the generator needs a few hundred more.
fits() { (($1 + 1000 <= nofile)); }
if fits "$idle_n"; then
    if start_kindred idle; then
        step idle "${kb[@]}" --scenario idle --connections "$idle_n" \
            --duration "$idle_duration" --json "$out/idle.json"
    fi
    stop_server
else
    say "idle: skipped: $idle_n connections need a higher open-files limit than $nofile (run as root, or --idle N)"
    failures+=("idle skipped: open-files limit $nofile")
fi
if start_kindred match; then
    step match "${kb[@]}" --scenario match --peers "$match_peers" --rate "$match_rate" \
        --duration "$match_duration" --json "$out/match.json"
fi
stop_server
if fits "$storm_n"; then
    if start_kindred storm; then
        step storm "${kb[@]}" --scenario storm --clients "$storm_n" --messages 5 \
            --setup-timeout 600 --json "$out/storm.json"
    fi
    stop_server
else
    say "storm: skipped: $storm_n clients need a higher open-files limit than $nofile (run as root, or --storm N)"
    failures+=("storm skipped: open-files limit $nofile")
fi

# ---- summary and plot ------------------------------------------------------------------------
printf '%s\n' "${failures[@]}" >"$out/failures.txt"
python3 "$root/bench/summarize.py" "$out" >"$out/summary.md" || {
    failed=1
    say "summary.md could not be written"
}
if [[ $plot == yes ]]; then
    mkdir -p "$root/docs/performance"
    if python3 "$root/bench/plot.py" "$out" --svg "$out/latency-vs-load.svg"; then
        cp "$out/latency-vs-load.svg" "$root/docs/performance/latency-vs-load.svg"
        say "plot: docs/performance/latency-vs-load.svg"
    else
        say "the plot could not be written"
    fi
fi
say "summary: $out/summary.md"
cat "$out/summary.md"
exit "$failed"
