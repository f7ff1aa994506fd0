#!/usr/bin/env bash
# smoke.sh — ctest's kindred_bench_smoke: every scenario of kindred-bench for a few seconds with
# small numbers, each against a fresh redis-server and kindred-server (bench/run.sh). It
# asserts correctness only (kindred-bench exits 1 on a lost, duplicated or unacknowledged
# message, a double assignment, a peer above capacity, a session not resumed, a connection
# never ready) — never speed: the numbers of a smoke run mean nothing.
# Also the echo scenario against kindred-bench-echo (the networking ceiling).
# Usage: smoke.sh BIN_DIR. Exit 77 (ctest: skipped) when kindred-server or redis-server is
# missing.
set -uo pipefail
bin=${1:?usage: smoke.sh BIN_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ! -x $bin/kindred-server || ! -x $bin/kindred-bench ]] || ! command -v redis-server >/dev/null; then
    echo "smoke.sh: kindred-server, kindred-bench or redis-server missing; skipped"
    exit 77
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/kindred-bench-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT

failed=0
run() {
    local name=$1; shift
    echo "=== $name: bench/run.sh $*"
    # --no-pin: ctest runs other tests at the same time; pinning would only add contention.
    if ! "$here/../run.sh" --bin "$bin" --out "$out" --no-pin "$@"; then
        echo "=== $name FAILED"
        failed=1
    fi
}
common=(--setup-timeout 60 --source-addresses 4)
run idle idle -- --connections 50 --duration 1 "${common[@]}"
run relay-closed relay -- --pairs 5 --warmup 0.5 --duration 1.5 --window 4 "${common[@]}"
run relay-open --bench-threads 2 relay -- --pairs 5 --warmup 0.5 --duration 1.5 --rate 200 "${common[@]}"
run match match -- --peers 8 --capacity-max 3 --rate 20 --duration 1.5 --hold-ms 200 "${common[@]}"
run storm --bench-threads 2 storm -- --clients 30 --messages 3 "${common[@]}"

# The echo ceiling: kindred-bench-echo (no Redis) and the echo scenario, closed and open loop.
echo_run() {
    local name=$1; shift
    echo "=== $name: kindred-bench --scenario echo $*"
    local log=$out/$name.log pid="" port=""
    "$bin/kindred-bench-echo" --listen 127.0.0.1:0 --threads 1 >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$log")
        [[ -n $port ]] && break
        sleep 0.05
    done
    if [[ -z $port ]] || ! "$bin/kindred-bench" --scenario echo --url "ws://127.0.0.1:$port/" \
        --server-pid "$pid" --json "$out/$name.json" "$@" "${common[@]}"; then
        echo "=== $name FAILED"
        cat "$log"
        failed=1
    fi
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
if [[ -x $bin/kindred-bench-echo ]]; then
    echo_run echo-closed --pairs 5 --warmup 0.5 --duration 1 --window 4
    echo_run echo-open --threads 2 --pairs 5 --warmup 0.5 --duration 1 --rate 500
else
    echo "=== echo: kindred-bench-echo is not built (cmake --build … --target kindred-bench-echo)"
    failed=1
fi
exit $failed
