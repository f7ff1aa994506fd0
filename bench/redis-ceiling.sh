#!/usr/bin/env bash
# redis-ceiling.sh — the Redis ceiling for one relayed message: redis-benchmark running the
# Redis work kindred-server does per `send` (EVALSHA of relay/lua/conv_append.lua with
# arguments of the same sizes, and the GET of the peer's session pointer that half the
# messages need), unpipelined and pipelined, against a Redis you give it. Prints ops/s and,
# with --json, writes them with the per-message ceiling derived from them.
# Usage: bench/redis-ceiling.sh --redis SOCK|HOST:PORT [options]   (see --help)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'USAGE'
Usage: bench/redis-ceiling.sh --redis SOCK|HOST:PORT [options]

Runs redis-benchmark against that Redis (a unix socket path, or host:port) with the commands
one relayed message costs kindred-server, and reports operations per second.

Options:
  --redis ADDR       the Redis to measure (required): /path/to/redis.sock, unix:/path,
                     host:port or tcp://host:port. It gets keys under conv:{redis-ceiling}
                     and peer:{redis-ceiling}, deleted at the end; use a private Redis.
  --pipeline P       the pipelined run's depth (default 16; the unpipelined run is always made)
  --requests N       requests per run (default 200000)
  --clients C        redis-benchmark connections (default 50)
  --size B           plaintext bytes of the message, as kindred-bench --size (default 100)
  --json FILE        write the figures here
  --quiet            no progress lines
  -h, --help         this help

What one `send` costs in Redis (relay/src/conversation_log.cpp, server/src/relay_service.cpp,
server/src/event_bus.cpp), for a single instance holding both parties:
  1. EVALSHA conv_append.lua, 3 keys: HMGET meta, HGET seq (retry check), HGET seq (last),
     XADD log (from, seq, sent_at, nonce, ciphertext: raw bytes), HSET meta last_offset,
     HSET seq (2 fields), PTTL meta, PEXPIRE log, PEXPIRE seq;
  2. for a message to the peer: GET of the peer's session pointer (the seeker is found in the
     connection registry without Redis).
Across instances each delivery adds HMGET of the recipient's session and a PUBLISH.

redis-benchmark cannot count, and conv_append.lua refuses a seq that is not above the
sender's last one; so the script run here is the real file with one line in front that sets
the seq from an INCR (one extra command inside the same call, measured separately as
"incr_only"). Ciphertext and nonce are 'x's of the real raw lengths (the log stores raw bytes).
USAGE
}

redis="" pipeline=16 requests=200000 clients=50 size=100 json="" quiet=no
while [[ $# -gt 0 ]]; do
    case $1 in
    --redis) redis=$2; shift 2 ;;
    --pipeline) pipeline=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --quiet) quiet=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "redis-ceiling.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n $redis ]] || { echo "redis-ceiling.sh: --redis is required (see --help)" >&2; exit 2; }
for n in "$pipeline" "$requests" "$clients" "$size"; do
    [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "redis-ceiling.sh: numbers must be positive" >&2; exit 2; }
done
command -v redis-benchmark >/dev/null || { echo "redis-ceiling.sh: redis-benchmark is not installed" >&2; exit 3; }
command -v redis-cli >/dev/null || { echo "redis-ceiling.sh: redis-cli is not installed" >&2; exit 3; }

redis=${redis#unix:}
redis=${redis#tcp://}
if [[ $redis == */* ]]; then
    conn=(-s "$redis")
else
    conn=(-h "${redis%:*}" -p "${redis##*:}")
fi
cli() { redis-cli "${conn[@]}" "$@"; }
cli ping >/dev/null 2>&1 || { echo "redis-ceiling.sh: no Redis answers at $redis" >&2; exit 3; }
say() { if [[ $quiet == no ]]; then echo "redis-ceiling: $*" >&2; fi; }

# The sizes of a Kindred message: {"text":"…"} (11 bytes + text) padded to the next multiple
# of 256 (always at least one byte of padding), then the 16-byte AEAD tag; 24-byte nonce.
padded=$(((size + 11) / 256 * 256 + 256))
cipher_bytes=$((padded + 16))
nonce_bytes=24
cipher=$(head -c "$cipher_bytes" </dev/zero | tr '\0' x)
nonce=$(head -c "$nonce_bytes" </dev/zero | tr '\0' x)

meta='conv:{redis-ceiling}'
log='conv:{redis-ceiling}:log'
seqs='conv:{redis-ceiling}:seq'
counter='conv:{redis-ceiling}:bench-seq'
pointer='peer:{redis-ceiling}:session'
seeker=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA # a session id's length
cleanup_keys() { cli del "$meta" "$log" "$seqs" "$counter" "$pointer" >/dev/null 2>&1 || true; }
trap cleanup_keys EXIT

# The conversation as conv_create.lua leaves it, with a day's TTL (every append refreshes the
# log's and seq hash's TTL from it, as in production).
reset_conversation() {
    cleanup_keys
    cli hset "$meta" state active seeker "$seeker" peer bench-peer created_at 1764300000000 \
        epoch 0123456789abcdef0123456789abcdef last_offset 0 >/dev/null
    cli pexpire "$meta" 86400000 >/dev/null
    cli set "$pointer" "$seeker" ex 86400 >/dev/null
}

script="$root/relay/lua/conv_append.lua"
[[ -r $script ]] || { echo "redis-ceiling.sh: $script is missing" >&2; exit 3; }
real_sha=$(cli script load "$(cat "$script")")
bench_sha=$(cli script load "$(printf "ARGV[3] = tostring(redis.call('INCR', KEYS[4]))\n%s" "$(cat "$script")")")
incr_sha=$(cli script load "return redis.call('INCR', KEYS[4])")

# Checks the prologue works: the script must store, not refuse.
reset_conversation
answer=$(cli evalsha "$bench_sha" 4 "$meta" "$log" "$seqs" "$counter" seeker "$seeker" 0 \
    1764300000000 peer "$nonce" "$cipher" | head -1)
if [[ $answer != ok ]]; then
    echo "redis-ceiling.sh: conv_append.lua answered '$answer', not ok; the benchmark would measure a refusal" >&2
    exit 3
fi

# rps from redis-benchmark --csv: "test","rps",… then one line per test.
bench() { # P COMMAND...
    local p=$1
    shift
    redis-benchmark "${conn[@]}" -n "$requests" -c "$clients" -P "$p" --csv "$@" 2>/dev/null |
        awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

declare -A rps
for p in 1 "$pipeline"; do
    reset_conversation
    say "EVALSHA conv_append (seq by INCR), ${cipher_bytes}-byte ciphertext, pipeline $p"
    rps[append_$p]=$(bench "$p" evalsha "$bench_sha" 4 "$meta" "$log" "$seqs" "$counter" seeker \
        "$seeker" 0 1764300000000 peer "$nonce" "$cipher")
    stored=$(cli hget "$meta" last_offset)
    if [[ $stored -lt $requests ]]; then
        echo "redis-ceiling.sh: only $stored of $requests appends were stored" >&2
        exit 3
    fi
    say "  ${rps[append_$p]} ops/s ($stored stored)"
    say "EVALSHA INCR only (the prologue's cost), pipeline $p"
    rps[incr_$p]=$(bench "$p" evalsha "$incr_sha" 4 "$meta" "$log" "$seqs" "$counter")
    say "  ${rps[incr_$p]} ops/s"
    say "GET peer session pointer, pipeline $p"
    rps[get_$p]=$(bench "$p" get "$pointer")
    say "  ${rps[get_$p]} ops/s"
done

# Messages/s the Redis work allows: each message costs one append, half of them one GET.
per_message() { # APPEND_RPS GET_RPS
    awk -v a="$1" -v g="$2" 'BEGIN { if (a > 0 && g > 0) printf "%.0f", 1 / (1 / a + 0.5 / g); else print 0 }'
}
ceiling_1=$(per_message "${rps[append_1]}" "${rps[get_1]}")
ceiling_p=$(per_message "${rps[append_$pipeline]}" "${rps[get_$pipeline]}")
echo "redis-ceiling: conv_append ${rps[append_1]}/s unpipelined, ${rps[append_$pipeline]}/s pipelined (P=$pipeline); GET ${rps[get_1]}/s, ${rps[get_$pipeline]}/s; per message (append + 1/2 GET): $ceiling_1/s, $ceiling_p/s"

if [[ -n $json ]]; then
    cat >"$json" <<JSON
{"scenario": "redis_ceiling", "started_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "redis": "$redis", "redis_version": "$(cli info server | sed -n 's/^redis_version:\([^\r]*\).*/\1/p')",
 "results": {
  "message_bytes": $size, "ciphertext_bytes": $cipher_bytes, "nonce_bytes": $nonce_bytes,
  "requests": $requests, "clients": $clients, "pipeline": $pipeline,
  "script": "relay/lua/conv_append.lua", "script_sha": "$real_sha",
  "append_per_second_unpipelined": ${rps[append_1]},
  "append_per_second_pipelined": ${rps[append_$pipeline]},
  "incr_only_per_second_unpipelined": ${rps[incr_1]},
  "incr_only_per_second_pipelined": ${rps[incr_$pipeline]},
  "get_per_second_unpipelined": ${rps[get_1]},
  "get_per_second_pipelined": ${rps[get_$pipeline]},
  "messages_per_second_unpipelined": $ceiling_1,
  "messages_per_second_pipelined": $ceiling_p,
  "per_message": "1 EVALSHA conv_append.lua + 0.5 GET (peer session pointer); single instance"
 }}
JSON
    say "wrote $json"
fi
