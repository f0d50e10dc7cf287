#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of outside input (the targets in fuzz/, which link the
# adforge-input crate only): libFuzzer through libfuzzer-sys, built on the stable toolchain with
# LLVM's SanitizerCoverage passes (what cargo-fuzz passes, minus the nightly-only sanitizers),
# with debug assertions and overflow checks on. Runs each target for SECONDS_EACH seconds,
# JOBS targets at a time, from the committed seeds (fuzz/seeds/TARGET) plus a corpus kept between
# runs in the fuzz build folder. A crash, a timeout (an input that takes more than 10 s) or an
# input that makes the process exceed 1 GiB fails the run, and its input is kept under
# target/fuzz-parsers/artifacts/TARGET/: add it to fuzz/regressions/TARGET/ with the fix (the
# crate's tests run every file there).
#
#   scripts/fuzz_parsers.sh                    # 10 minutes per target (the long form)
#   SECONDS_EACH=30 scripts/fuzz_parsers.sh    # the bounded form CI runs
#   scripts/fuzz_parsers.sh gguf image         # some targets only
#
# Prints executions per target; OUT=file also writes them there as TSV.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SECONDS_EACH="${SECONDS_EACH:-600}"
JOBS="${JOBS:-2}"
ALL_TARGETS=(video_spec creative_spec jobs_file dataset webhook image gguf safetensors)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# Its own target folder: these flags are not in cargo's fingerprints, so instrumented and plain
# builds must never share one. The explicit --target keeps the flags off build scripts.
build="$PWD/target/fuzz-parsers"
host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$build"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cdebug-assertions -Coverflow-checks"
log "building ${#targets[@]} fuzz targets (coverage-instrumented, $build)"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
(cd fuzz && cargo build --quiet --release --locked --target "$host" "${bins[@]}")

results=$(mktemp)
trap 'rm -f "$results"' EXIT
run_one() {
  local t=$1
  local corpus="$build/corpus/$t" artifacts="$build/artifacts/$t" logf="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$build/logs"
  local max_len=16384
  [ "$t" = image ] && max_len=65536
  local status=ok
  "$build/$host/release/$t" "$corpus" "fuzz/seeds/$t" \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 -max_len="$max_len" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$logf" 2>&1 || status=FAILED
  local runs cov
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$logf" | tail -1 | cut -d' ' -f2)
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${runs:-0}" "${cov:-0}" "$(find "$corpus" -type f | wc -l)" "$status" >>"$results"
  if [ "$status" != ok ]; then
    log "fuzz target $t FAILED; its input is in $artifacts, the log's end:"
    tail -40 "$logf" >&2
  fi
}

log "fuzzing each target for ${SECONDS_EACH}s, $JOBS at a time"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

sort "$results" | awk -F'\t' 'BEGIN { printf "%-14s %12s %10s %8s  %s\n", "target", "executions", "coverage", "corpus", "result" }
  { printf "%-14s %12s %10s %8s  %s\n", $1, $2, $3, $4, $5 }' >&2
[ -z "${OUT:-}" ] || cp "$results" "$OUT"
if grep -q FAILED "$results"; then
  exit 1
fi
log "parser fuzzing: no crash, timeout or memory blow-up in ${#targets[@]} targets"
