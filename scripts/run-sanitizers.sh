#!/usr/bin/env bash
# run-sanitizers.sh — builds the `asan` (AddressSanitizer + LeakSanitizer + UBSan) and/or
# `tsan` (ThreadSanitizer) preset and runs ctest on it. Any report fails the run: UBSan is
# built with -fno-sanitize-recover, every sanitizer halts on its first error, and the reports
# of every process (the test binaries and the kindred-server / kindredctl processes they start)
# go to files under build/<preset>/sanitizer-logs/, which must stay empty.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/run-sanitizers.sh [asan|tsan|all] [--subset] [--labels REGEX]
  asan|tsan|all  which preset(s) (default all)
  --subset       the part `make test` runs: asan over the unit and redis labels; tsan over the
                 redis label (the Redis client's I/O thread and reconnects, callbacks crossing
                 threads, the event bus, two matching instances racing, the Argon2id hash
                 threads); without it: the unit, redis and integration labels under both
                 (`make sanitize`)
  --labels REGEX ctest labels to run instead (e.g. 'unit|redis|integration|reliability')
Environment: KINDRED_SANITIZE_JOBS  parallel ctest jobs (default 2)
USAGE
}

which=all
subset=0
labels=
while [[ $# -gt 0 ]]; do
  case "$1" in
    asan|tsan|all) which=$1 ;;
    --subset) subset=1 ;;
    --labels) labels=${2:?--labels needs a value}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "sanitizers: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${KINDRED_SANITIZE_JOBS:-2}
presets=(asan tsan)
if [[ $which != all ]]; then presets=("$which"); fi

# Tests are chosen by label only: the JavaScript tests (js), the deployment-file checks (deploy)
# and the browser tests run no sanitized code and carry labels of their own.
run_preset() {
  local preset=$1 run_labels=$labels
  local targets=() label
  if [[ -z $run_labels ]]; then
    if [[ $subset -eq 1 && $preset == tsan ]]; then
      run_labels='redis'
    elif [[ $subset -eq 1 ]]; then
      run_labels='unit|redis'
    else
      run_labels='unit|redis|integration'
    fi
  fi
  local dir=build/$preset logs=build/$preset/sanitizer-logs
  local start=$(date +%s)
  [[ -f $dir/build.ninja ]] || cmake --preset "$preset" >/dev/null
  ninja -C "$dir" build.ninja >/dev/null
  # Build only what the chosen labels need (each label has a kindred_tests_<label> target).
  local known
  known=$(ninja -C "$dir" -t targets all)
  for label in ${run_labels//|/ }; do
    if grep -q "^kindred_tests_$label:" <<<"$known"; then
      targets+=("kindred_tests_$label")
    fi
  done
  # The bench smoke run (integration) needs kindred-bench, which no test target builds.
  if [[ $run_labels == *integration* ]]; then targets+=(all); fi
  if [[ ${#targets[@]} -eq 0 ]]; then
    echo "sanitizers: no tests with labels '$run_labels'" >&2
    return 1
  fi
  echo "sanitizers: $preset: building ${targets[*]}"
  cmake --build "$dir" --target "${targets[@]}"
  local built=$(date +%s)

  rm -rf "$logs"
  mkdir -p "$logs"
  local supp=$root/tests/sanitizers
  # Shared by every process the tests start (they inherit the environment).
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$root/$logs/ubsan:suppressions=$supp/ubsan.supp"
  if [[ $preset == asan ]]; then
    export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$root/$logs/asan"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  else
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$root/$logs/tsan:suppressions=$supp/tsan.supp"
  fi
  local status=0
  # A test that fails without a sanitizer report gets one more try: the instrumented builds run
  # 2-10x slower, and a Redis command deadline (1 s) in a burst test can pass on a loaded
  # machine. A report is never forgiven: the retry leaves its log file, checked below.
  echo "sanitizers: $preset: ctest -L '$run_labels'"
  ctest --test-dir "$dir" -L "$run_labels" --output-on-failure --no-tests=error \
    -j"$jobs" --repeat until-pass:2 || status=1
  # A report in a server process does not always fail the test that started it (a server
  # stopped at the end of a test); the log files catch those.
  shopt -s nullglob
  local reports=("$logs"/*)
  shopt -u nullglob
  if [[ ${#reports[@]} -gt 0 ]]; then
    status=1
    echo "sanitizers: $preset: ${#reports[@]} report file(s):" >&2
    local f
    for f in "${reports[@]}"; do
      echo "---- $f" >&2
      head -60 "$f" >&2
    done
  fi
  local end=$(date +%s)
  echo "sanitizers: $preset: build $((built - start)) s, tests $((end - built)) s, $([[ $status -eq 0 ]] && echo passed || echo FAILED)"
  return $status
}

overall=0
for p in "${presets[@]}"; do
  run_preset "$p" || overall=1
done
exit $overall
