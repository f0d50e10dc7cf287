#!/usr/bin/env bash
# From a fresh Debian 12 machine to a running server: installs what is missing, pulls the
# default models into the data dir (checking every sha256), builds the release binary and serves
# on the embedded default (SQLite, embedded job queue, CPU) at http://127.0.0.1:8080.
# Idempotent: a second run skips what is already there. Extra arguments go to `adforge serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt_packages
ensure_rust

log "building (release)"
cargo build --release --quiet
build_web
bin=target/release/adforge
export ADFORGE_DATA_DIR="${ADFORGE_DATA_DIR:-$PWD/data}"

log "pulling default models into $ADFORGE_DATA_DIR/models"
"$bin" models pull
"$bin" models list

log "serving at http://${ADFORGE_ADDR:-127.0.0.1:8080} (Ctrl-C stops)"
exec "$bin" serve "$@"
