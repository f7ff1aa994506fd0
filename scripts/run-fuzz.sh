#!/usr/bin/env bash
# run-fuzz.sh — builds the libFuzzer targets with clang (preset `fuzz`) and runs each one on a
# copy of its seed corpus (tests/fuzz/corpus/<name>/) with its dictionary
# (tests/fuzz/dict/<name>.dict) when there is one. A crash, sanitizer report, leak, input slower
# than the per-input timeout or memory over the RSS limit fails the run; the failing input is
# kept and its path printed with the command that replays it.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/run-fuzz.sh [SECONDS] [TARGET...]
  SECONDS  run time per target (default 20; `make fuzz-long` runs 600)
  TARGET   short names (protocol_decode, lexicon_match, ...); default: every kindred_fuzz_* target
Environment: KINDRED_FUZZ_TIMEOUT  seconds one input may take (default 10)
             KINDRED_FUZZ_RSS_MB   memory limit in MB (default 2048)
             KINDRED_FUZZ_KEEP     a folder: crashes and the grown corpora are kept there
USAGE
}
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
cd "$(dirname "$0")/.."
seconds=${1:-20}
if [[ $# -gt 0 ]]; then shift; fi
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -eq 0 ]]; then
  echo "fuzz: SECONDS must be a positive whole number, got '$seconds'" >&2
  usage >&2
  exit 2
fi
timeout_s=${KINDRED_FUZZ_TIMEOUT:-10}
rss_mb=${KINDRED_FUZZ_RSS_MB:-2048}

if [[ ! -f build/fuzz/build.ninja ]]; then
  cmake --preset fuzz >/dev/null
fi
# Re-run CMake first if a CMakeLists.txt changed, so the list of targets below is current.
ninja -C build/fuzz build.ninja >/dev/null
# Only the fuzz targets: the rest of the tree is built (with gcc) by the main preset.
mapfile -t all < <(ninja -C build/fuzz -t targets all |
  sed -n 's/^kindred_fuzz_\([a-z_]*\): .*/\1/p' | sort -u)
if [[ ${#all[@]} -eq 0 ]]; then
  echo "fuzz: no targets defined" >&2
  exit 1
fi
names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then names=("${all[@]}"); fi
for name in "${names[@]}"; do
  if [[ " ${all[*]} " != *" $name "* ]]; then
    echo "fuzz: no target '$name' (have: ${all[*]})" >&2
    exit 2
  fi
done
cmake --build --preset fuzz --target "${names[@]/#/kindred_fuzz_}"

keep=${KINDRED_FUZZ_KEEP:-}
if [[ -n $keep ]]; then mkdir -p "$keep"; fi
for name in "${names[@]}"; do
  target=build/fuzz/bin/kindred_fuzz_$name
  corpus=tests/fuzz/corpus/$name
  dict=tests/fuzz/dict/$name.dict
  work=${keep:+$keep/$name}
  if [[ -z $work ]]; then work=$(mktemp -d); else mkdir -p "$work"; fi
  mkdir -p "$work/corpus"
  [[ -d $corpus ]] && cp -r "$corpus"/. "$work/corpus"/
  args=(-max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb"
        -max_len=70000 -print_final_stats=1 -artifact_prefix="$work/")
  [[ -f $dict ]] && args+=(-dict="$dict")
  echo "fuzz: $name for ${seconds}s"
  # LeakSanitizer is on (the default with ASan): a leak fails the input like a crash.
  if ! ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$target" "${args[@]}" "$work/corpus" \
      >"$work/log" 2>&1; then
    tail -60 "$work/log"
    artifact=$(ls -t "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null |
      head -1 || true)
    echo "fuzz: $name FAILED; log: $work/log" >&2
    if [[ -n $artifact ]]; then
      echo "fuzz: reproducer: $artifact" >&2
      echo "fuzz: replay with: $target $artifact" >&2
    fi
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 || true)
  echo "fuzz: $name ok: ${execs:-?} inputs, ${cov:-cov: ?}, corpus $(ls "$work/corpus" | wc -l) files"
  if [[ -z $keep ]]; then rm -rf "$work"; fi
done
