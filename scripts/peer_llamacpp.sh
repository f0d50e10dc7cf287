#!/usr/bin/env bash
# The llama.cpp peer, measured beside adforge: makes a virtualenv OUTSIDE the repository
# (~/.cache/adforge/peer-venv), lets pip compile llama-cpp-python there (about 10 minutes on
# 2 cores, once), and runs scripts/peer_llamacpp.py on the default GGUF. Never part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ADFORGE_PEER_VENV:-$HOME/.cache/adforge/peer-venv}"
# The GGUF: a first argument ending in .gguf, else the default model in the model cache.
model="${ADFORGE_MODEL_CACHE:-data/models}/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ "${1:-}" != "${1%.gguf}" ]; then
  model=$1
  shift
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy 'llama-cpp-python==0.3.36'
fi
exec "$venv/bin/python" scripts/peer_llamacpp.py "$model" "$@"
