#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, starts a
# throwaway PostgreSQL and Redis on free loopback ports in a temporary folder, runs the format
# check, clippy and every test, and stops the services again. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt_packages
ensure_rust

work=$(mktemp -d /tmp/adforge-test.XXXXXX)
pg_port=$(free_port)
redis_port=$(free_port)
cleanup() {
  stop_redis "$redis_port"
  stop_postgres "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

log "starting PostgreSQL on 127.0.0.1:$pg_port and Redis on 127.0.0.1:$redis_port"
start_postgres "$work/pg" "$pg_port"
start_redis "$work/redis" "$redis_port"

export ADFORGE_TEST_POSTGRES_URL="postgres://adforge@127.0.0.1:$pg_port/postgres"
export ADFORGE_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export ADFORGE_TEST_PG_BIN="$(pg_bin_dir)"
ADFORGE_TEST_MOTO="$(ensure_moto)"
export ADFORGE_TEST_MOTO

# The text and embedding tests run the real default models: pulled once into a cache kept between runs.
export ADFORGE_TEST_MODEL_CACHE="${ADFORGE_TEST_MODEL_CACHE:-$HOME/.cache/adforge/models}"
log "pulling the test models into $ADFORGE_TEST_MODEL_CACHE"
cargo build --quiet --bin adforge
ADFORGE_MODEL_CACHE="$ADFORGE_TEST_MODEL_CACHE" target/debug/adforge models pull smollm2-135m-instruct all-minilm-l6-v2 gemma-3-270m esrgan-slim rife-3.9

log "cargo fmt --check"
cargo fmt --check
cargo fmt --check --manifest-path fuzz/Cargo.toml
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
log "cargo test --workspace"
# Tests wait on services and timers more than on the CPU: run more of them than there are cores.
# (An environment variable, because criterion's bench harness takes no --test-threads flag.)
RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}" cargo test --workspace --all-targets
log "cargo test passed"

log "scale-out: an API node and two workers on their own network namespaces"
ADFORGE_MODEL_CACHE="$ADFORGE_TEST_MODEL_CACHE" ./scripts/scaleout_test.sh target/debug/adforge

log "reliability: parser and schema fuzzing, overload (bounded forms; RELIABILITY.md has the long ones)"
SECONDS_EACH=25 ./scripts/fuzz_parsers.sh
ADFORGE_MODEL_CACHE="$ADFORGE_TEST_MODEL_CACHE" EXAMPLES=3 ./scripts/fuzz_api.sh target/debug/adforge
ADFORGE_MODEL_CACHE="$ADFORGE_TEST_MODEL_CACHE" SECONDS_EACH=8 ./scripts/overload_test.sh target/debug/adforge

log "dashboard: component and end-to-end tests"
ADFORGE_MODEL_CACHE="$ADFORGE_TEST_MODEL_CACHE" ./scripts/web_test.sh target/debug/adforge

log "the whole suite passed"
