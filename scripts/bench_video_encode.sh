#!/usr/bin/env bash
# The video-encode benchmark in one run: adforge's streaming encoder (media::encoder) and the
# ffmpeg command line fed the same raw RGBA frames, 1080x1920, 24 fps, libx264 veryfast CRF 23,
# 48 frames a sample (criterion; the dev profile, adforge at opt-level 2 and dependencies at
# 3, as the tests build it). Not part of CI. Usage: scripts/bench_video_encode.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --profile dev --bench video_encode 2>/dev/null | grep -E "^video_encode|time:|thrpt:" || true
