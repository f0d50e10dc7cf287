#!/usr/bin/env bash
# The analytics benchmark of BENCHMARKS.md in one run: POST /api/analytics/abtest under load
# (wrk, 10 s, 2 threads, 16 connections, server and load generator sharing the machine's cores)
# beside the same statistics in scipy/statsmodels in process (venv outside the repository),
# then the marketing-mix fit on 104 weeks x 5 channels in process (criterion). Not part of CI.
# Uses the dev-profile binary (adforge at opt-level 2, dependencies at 3), as scripts/test.sh
# builds it; the criterion fit too (`cargo bench --profile dev`). Usage: scripts/bench_analytics.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
seconds="${1:-10}"
command -v wrk >/dev/null || apt-get install -y -q wrk
cargo build --quiet
bin=target/debug/adforge
work="$(mktemp -d)"
port="$(free_port)"
export ADFORGE_API_KEY="adf_bench-key-0123456789abcdef0123"
"$bin" serve --addr "127.0.0.1:$port" --data-dir "$work" --text-model "" --embed-model "" \
  >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "http://127.0.0.1:$port"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $ADFORGE_API_KEY"
wrk.body = '{"control":{"name":"A","conversions":480,"users":12000},"variants":[{"name":"B","conversions":552,"users":12050},{"name":"C","conversions":500,"users":11980}]}'
LUA
log "adforge POST /api/analytics/abtest, one control and two variants, ${seconds} s"
wrk -t2 -c16 -d"${seconds}s" --latency -s "$work/post.lua" "http://127.0.0.1:$port/api/analytics/abtest"
kill $server
wait $server 2>/dev/null || true
venv="$HOME/.cache/adforge/scipy-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q scipy statsmodels
fi
log "peer: the same statistics in scipy/statsmodels, in process"
"$venv/bin/python" scripts/peer_abtest_scipy.py "$seconds"
log "marketing-mix fit, 104 weeks x 5 channels, default search, in process"
cargo bench --profile dev --bench analytics 2>/dev/null | grep -E "^mmm|time:" || true
