#!/usr/bin/env bash
# run-fuzz.sh — builds the libFuzzer targets with clang (preset `fuzz`) and runs each for a
# few seconds on its seed corpus. A crash, leak or sanitizer report fails the run.
# Usage: scripts/run-fuzz.sh [SECONDS per target, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
if [[ ! -f build/fuzz/build.ninja ]]; then
  cmake --preset fuzz >/dev/null
fi
# Only the fuzz targets: the rest of the tree is built (with gcc) by the main preset.
mapfile -t names < <(ninja -C build/fuzz -t targets all | sed -n 's/^\(kindred_fuzz_[a-z_]*\): .*/\1/p' | sort -u)
if [[ ${#names[@]} -eq 0 ]]; then
  echo "fuzz: no targets defined" >&2
  exit 1
fi
cmake --build --preset fuzz --target "${names[@]}"
shopt -s nullglob
targets=(build/fuzz/bin/kindred_fuzz_*)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: no targets built" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  name=$(basename "$target"); name=${name#kindred_fuzz_}
  corpus=tests/fuzz/corpus/$name
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -max_len=70000 -print_final_stats=1 \
      -artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
    tail -50 "$work.log"
    echo "fuzz: $name FAILED; the input is in $work" >&2
    exit 1
  fi
  grep -E 'stat::number_of_executed_units|Done' "$work.log" | tail -2
  rm -rf "$work" "$work.log"
done
