#!/usr/bin/env bash
# The text benchmark of BENCHMARKS.md in one run, adforge and its peers on the same machine one
# after the other: adforge through its HTTP API (`adforge bench text`, concurrency 1..16, with
# the engine's time by phase), llama.cpp in process with 1 and 8 sequences (scripts/peer_llamacpp.sh,
# its venv outside the repository), then one decode step in process for adforge and candle's
# stock quantized_llama (criterion). Not part of CI. Usage:
#   scripts/bench_text.sh [MAX_TOKENS] [REQUESTS_PER_CLIENT]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
tokens="${1:-128}"
requests="${2:-2}"
export ADFORGE_MODEL_CACHE="${ADFORGE_MODEL_CACHE:-$HOME/.cache/adforge/models}"
cargo build --release --quiet
bin=target/release/adforge
"$bin" models pull smollm2-135m-instruct >/dev/null
work="$(mktemp -d)"
port="$(free_port)"
log "adforge: serving on 127.0.0.1:$port (data in $work)"
"$bin" serve --addr "127.0.0.1:$port" --data-dir "$work" --embed-model "" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "http://127.0.0.1:$port"
log "adforge over HTTP, $tokens output tokens, $requests requests per client"
"$bin" bench text --url "http://127.0.0.1:$port" --concurrency 1,2,4,8,16 \
  --requests "$requests" --max-tokens "$tokens"
kill $server
wait $server 2>/dev/null || true
log "llama.cpp in process (llama-cpp-python), 2 threads"
scripts/peer_llamacpp.sh "$ADFORGE_MODEL_CACHE/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf" \
  --threads 2 --sequences 1 8 --tokens "$tokens"
log "one decode step in process: adforge and candle's stock quantized_llama"
cargo bench --quiet --bench text 2>/dev/null | grep -E '^(decode_step|stock_candle)|thrpt' || true
