#!/usr/bin/env bash
# The torch peer for the embedding benchmark, beside `cargo bench --bench embed` in one run:
# makes a virtualenv OUTSIDE the repository (~/.cache/adforge/torch-venv; torch from PyPI is
# several GB), then runs both. Never part of CI. Usage: scripts/peer_embed_torch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
venv="${ADFORGE_TORCH_VENV:-$HOME/.cache/adforge/torch-venv}"
export ADFORGE_MODEL_CACHE="${ADFORGE_MODEL_CACHE:-$HOME/.cache/adforge/models}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, transformers' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch transformers
fi
cargo build --release --quiet
target/release/adforge models pull all-minilm-l6-v2 >/dev/null
log "adforge (candle BERT), 2 threads"
cargo bench --quiet --bench embed 2>/dev/null | grep -E '^embed/|thrpt' || true
log "torch CPU, 2 threads"
"$venv/bin/python" scripts/peer_embed_torch.py "$ADFORGE_MODEL_CACHE/all-minilm-l6-v2" --threads 2
