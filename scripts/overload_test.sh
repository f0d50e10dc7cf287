#!/usr/bin/env bash
# Overload: a server with small admission limits (text: batch 4 + queue 4; embeddings: batch 8 +
# queue 8; upscale: 1 running + 8 waiting) and each generation endpoint driven at twice that by
# scripts/overload.py for SECONDS (10 in CI). Excess requests must get 429/503 with Retry-After
# at once, admitted ones finish, /health answers throughout, and peak RSS stays under
# MAX_RSS_MIB (2048: the text, embedding and upscale models plus their batches). Accepted and
# refused requests per second and p99 are printed for RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bin="${1:-target/debug/adforge}"
work=$(mktemp -d /tmp/adforge-overload.XXXXXX)
port=$(free_port)
key="adf_overload-key-0123456789abcdef"
ADFORGE_API_KEY="$key" ADFORGE_RATE_LIMIT_BURST=1000000 ADFORGE_RATE_LIMIT_PER_MINUTE=1000000 \
ADFORGE_MAX_BATCH=4 ADFORGE_TEXT_QUEUE=4 ADFORGE_EMBED_BATCH=8 ADFORGE_EMBED_QUEUE=8 RUST_LOG=warn \
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work" --web-dir "$work/none" \
  --model-cache "${ADFORGE_MODEL_CACHE:-$HOME/.cache/adforge/models}" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "http://127.0.0.1:$port"
python3 scripts/overload.py --url "http://127.0.0.1:$port" --key "$key" --pid "$server" \
  --seconds "${SECONDS_EACH:-10}" --max-rss-mib "${MAX_RSS_MIB:-2048}" \
  --capacity chat=8 --capacity copy=8 --capacity embeddings=16 --capacity upscale=9
