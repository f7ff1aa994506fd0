#!/usr/bin/env bash
# run-tests.sh — `make test`: the whole suite against the real parts, then a short fuzz run and
# the sanitizer subset. ctest runs unit tests (no network), redis tests (each starts its own
# redis-server on a private socket) and integration tests (real kindred-server processes on
# loopback). The fuzz run gives every libFuzzer target KINDRED_FUZZ_SECONDS (default 15; 6
# targets, ~1.5 min); the sanitizer subset (scripts/run-sanitizers.sh all --subset) builds the
# asan and tsan presets in their own folders (build/asan, build/tsan) and runs asan over the
# unit and redis labels and tsan over the redis label.
# `make sanitize` and `make fuzz-long` are the long versions (docs/reliability.md §10, §11).
# Usage: scripts/run-tests.sh BUILD_DIR [PRESET]
#   env: KINDRED_FUZZ_SECONDS (default 15; 0 skips)
#        KINDRED_TEST_SANITIZERS all (default) | asan | tsan | 0 (skips)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/dev}
status=0
start=$(date +%s)
ctest_log=$(mktemp)
set +e
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j2 2>&1 | tee "$ctest_log"
ctest_status=${PIPESTATUS[0]}
set -e
[[ $ctest_status -eq 0 ]] || status=$ctest_status
# "N% tests passed, F tests failed out of T" → the plain closing line below.
summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$ctest_log" | tail -1 || true)
# The failed tests' names and the end of each one's output, kept for the closing lines: the
# sanitizer builds print hundreds of lines after ctest, and a CI log is often read from its tail.
failures=$(awk '
  /^ *Start +[0-9]+:/ || /^[0-9]+\/[0-9]+ Test +#[0-9]+:/ || /^[0-9]+% tests passed/ { if (in_block) flush(); in_block = 0 }
  /^[0-9]+\/[0-9]+ Test +#[0-9]+:.*(\*\*\*|Failed|Timeout|Exception)/ && !/ Passed / {
    in_block = 1; n = 0; head = $0; next }
  in_block { lines[n++ % 15] = $0 }
  function flush(   i, first) {
    print head
    first = n > 15 ? n - 15 : 0
    for (i = first; i < n; i++) print "    " lines[i % 15]
  }
  END { if (in_block) flush() }' "$ctest_log")
rm -f "$ctest_log"

fuzz_seconds=${KINDRED_FUZZ_SECONDS:-15}
if [[ $fuzz_seconds -gt 0 ]]; then
  if command -v clang++ >/dev/null && ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    scripts/run-fuzz.sh "$fuzz_seconds" || status=1
  else
    echo "fuzz: skipped (clang with libFuzzer not installed; 'make fuzz' installs it)"
  fi
fi
sanitizers=${KINDRED_TEST_SANITIZERS:-all}
if [[ $sanitizers != 0 ]]; then
  [[ $sanitizers == 1 ]] && sanitizers=all
  sanitize_start=$(date +%s)
  scripts/run-sanitizers.sh "$sanitizers" --subset || status=1
  echo "sanitizers: subset finished in $(( $(date +%s) - sanitize_start )) s"
fi
echo "tests: finished in $(( $(date +%s) - start )) s, exit status $status"
if [[ -n $summary ]]; then
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  failed=$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$summary")
  echo "ctest: $((total - failed)) passed, $failed failed"
fi
if [[ -n $failures ]]; then
  echo "ctest: failed tests, each with the last lines of its output:"
  echo "$failures"
fi
exit $status
