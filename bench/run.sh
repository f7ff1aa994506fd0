#!/usr/bin/env bash
# run.sh — one benchmark run, start to finish: a private redis-server, one kindred-server with
# benchmark rate limits, kindred-bench running one scenario, the JSON result in
# bench/results/<scenario>-<UTC date>.json, then everything stopped and removed.
# Usage: bench/run.sh [options] SCENARIO [-- kindred-bench options]   (see --help)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'USAGE'
Usage: bench/run.sh [options] SCENARIO [-- kindred-bench options...]

SCENARIO is idle, relay, match or storm (kindred-bench --help describes each and its options,
e.g. bench/run.sh relay -- --pairs 500 --rate 20000 --duration 20).

Options:
  --bin DIR            folder with kindred-server and kindred-bench (default: the first of
                       build/release/bin, build/h/bin, build/dev/bin that has both)
  --out DIR            where the JSON result goes (default: bench/results)
  --json FILE          exact result file (default: OUT/SCENARIO-YYYYmmdd-HHMMSS.json)
  --aof-always         Redis with appendonly yes + appendfsync always (default: AOF off, no
                       RDB snapshots: Redis works from memory only)
  --redis-port PORT    Redis on 127.0.0.1:PORT over TCP (default: a unix socket)
  --server-threads N   kindred-server --threads (default: the number of cores it is pinned
                       to, or 0 = one per core when not pinned)
  --bench-threads N    kindred-bench --threads (default: the number of its cores)
  --no-pin             do not pin with taskset
  --keep               keep the temporary folder (logs, Redis data) and print its path
  -h, --help           this help

Pinning (with taskset, when the machine has 2 or more cores): the server gets core 0; with 3
or more cores Redis gets core 1 and the generator the rest; with 2, the generator gets core 1
and Redis is not pinned (it shares with both). The open-files limit is raised to the hard
limit for every process started here.

Server limits for a benchmark: --messages-per-second 100000 --message-burst 1000000
--send-per-minute 1000000 --send-burst 100000 --request-match-per-minute 1000000
--request-match-burst 100000 --max-rate-limited 100000 (the per-connection limits would
otherwise refuse a load generator's clients), log level warn.

Exit code: kindred-bench's (0 passed, 1 a correctness check failed, 2 usage, 3 setup failed);
4 when Redis or the server did not start.
USAGE
}

bin="" out_dir="$root/bench/results" json="" aof=no redis_port="" server_threads=""
bench_threads="" pin=yes keep=no scenario=""
while [[ $# -gt 0 ]]; do
    case $1 in
    --bin) bin=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --aof-always) aof=yes; shift ;;
    --redis-port) redis_port=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --bench-threads) bench_threads=$2; shift 2 ;;
    --no-pin) pin=no; shift ;;
    --keep) keep=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
        if [[ -n $scenario ]]; then echo "run.sh: one scenario only" >&2; exit 2; fi
        scenario=$1; shift ;;
    esac
done
case $scenario in
idle | relay | match | storm) ;;
*) echo "run.sh: SCENARIO must be idle, relay, match or storm (see --help)" >&2; exit 2 ;;
esac

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
if ! bin=$(bench_find_bin "$bin"); then
    echo "run.sh: no folder with kindred-server and kindred-bench; build them or pass --bin" >&2
    exit 2
fi
command -v redis-server >/dev/null || { echo "run.sh: redis-server is not installed" >&2; exit 4; }

# Every connection is a file descriptor, on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_plan_pinning "$pin"
if [[ -z $server_threads ]]; then
    if [[ -n $server_cpus ]]; then server_threads=$(count_cpus "$server_cpus"); else server_threads=0; fi
fi
if [[ -z $bench_threads ]]; then
    if [[ -n $bench_cpus ]]; then bench_threads=$(count_cpus "$bench_cpus"); else bench_threads=1; fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kindred-bench.XXXXXX")
redis_pid="" server_pid="" bench_pid=""
cleanup() {
    local rc=$?
    if [[ -n $bench_pid ]]; then kill -TERM "$bench_pid" 2>/dev/null || true; fi
    bench_stop_pid "$server_pid"
    bench_stop_pid "$redis_pid"
    wait 2>/dev/null || true
    if [[ $keep == yes ]]; then
        echo "run.sh: kept $tmp (server.log, redis.log)" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! bench_start_redis "$aof" "$redis_port"; then
    echo "run.sh: redis-server did not start" >&2
    exit 4
fi
if ! bench_start_kindred "$server_threads"; then
    echo "run.sh: kindred-server did not start" >&2
    exit 4
fi

# ---- kindred-bench -------------------------------------------------------------------------
cd "$root"
mkdir -p "$out_dir"
[[ -n $json ]] || json="$out_dir/$scenario-$(date -u +%Y%m%d-%H%M%S).json"
echo "run.sh: $scenario — server pid $server_pid (cpus ${server_cpus:-any}, threads" \
    "$server_threads), redis pid $redis_pid (cpus ${redis_cpus:-any}, aof $aof)," \
    "bench cpus ${bench_cpus:-any} (threads $bench_threads), nofile $(ulimit -n)" >&2
set +e
$(pin_prefix "$bench_cpus") "$bin/kindred-bench" --scenario "$scenario" \
    --url "ws://127.0.0.1:$port/v1/ws" --redis "$redis_addr" \
    --server-pid "$server_pid" --redis-pid "$redis_pid" --threads "$bench_threads" \
    --label "redis_aof=$aof" --label "redis=$redis_addr" \
    --label "server_cpus=${server_cpus:-any}" --label "server_threads=$server_threads" \
    --label "redis_cpus=${redis_cpus:-any}" --label "bench_cpus=${bench_cpus:-any}" \
    --json "$json" "$@" &
# Waited for in the background so a signal to this script runs the cleanup at once.
bench_pid=$!
wait "$bench_pid"
rc=$?
bench_pid=""
set -e
if [[ $rc -ne 0 && $rc -ne 2 ]]; then
    echo "run.sh: kindred-bench exited $rc; the server log's last lines:" >&2
    tail -20 "$tmp/server.log" >&2 || true
fi
exit "$rc"
