#!/usr/bin/env bash
# The image benchmark with its peer in one run: `adforge bench image` (a random-weight SD 1.5
# UNet, seconds per step and images/s at batch 1, 2, 4, 8) and diffusers on torch CPU with the
# same config, size and batches. The torch venv lives outside the repository
# (~/.cache/adforge/torch-venv); never part of CI. Usage: scripts/bench_image.sh [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
size="${1:-256}"
venv="${ADFORGE_TORCH_VENV:-$HOME/.cache/adforge/torch-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, diffusers' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch diffusers transformers
fi
cargo build --release --quiet
log "adforge (own UNet forward on candle), ${size}x${size}"
target/release/adforge bench image --width "$size" --height "$size" --json /tmp/adforge-bench-image.json
log "diffusers on torch CPU, same config"
"$venv/bin/python" scripts/peer_image_diffusers.py --size "$size" --threads 2
