#!/usr/bin/env bash
# The dashboard's weight and speed: the gzipped JavaScript each page loads first, and the
# campaigns page's time to interactive with 1,000 campaigns on localhost in headless Chromium
# (web/scripts/bench-tti.mjs says what "interactive" means there). Starts its own server on
# the embedded default; not run by CI. Figures go to BENCHMARKS.md.
#   ./scripts/bench_web.sh [path/to/adforge]      (CAMPAIGNS=1000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bin="${1:-target/release/adforge}"
n="${CAMPAIGNS:-1000}"
build_web
(cd web && node scripts/js-size.mjs out --max-kb=250 --page=/index.html)

work=$(mktemp -d); port=$(free_port); base="http://127.0.0.1:$port"
key="adf_bench-web-key-0123456789abcdef"; email="bench@example.com"; pass="correct horse battery 3"
ADFORGE_API_KEY="$key" ADFORGE_ADMIN_EMAIL="$email" ADFORGE_ADMIN_PASSWORD="$pass" \
ADFORGE_RATE_LIMIT_BURST=100000 ADFORGE_RATE_LIMIT_PER_MINUTE=100000 \
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work" --web-dir web/out \
  --text-model "" --embed-model "" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "$base"
# The campaigns belong to the admin user's owner: sign in and create them with its session.
token=$(curl -fsS "$base/api/auth/login" -H 'content-type: application/json' \
  -d "{\"email\": \"$email\", \"password\": \"$pass\"}" | jq -r .token)
log "creating $n campaigns"
seq 1 "$n" | xargs -P 8 -I{} curl -fsS -o /dev/null "$base/api/campaigns" \
  -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name": "Campaign {}", "objective": "sales", "currency": "USD", "daily_budget": "50.00",
       "start_date": "2027-01-01", "end_date": "2027-01-31", "platforms": ["sandbox"]}'
(cd web && BASE_URL="$base" ADFORGE_E2E_EMAIL="$email" ADFORGE_E2E_PASSWORD="$pass" node scripts/bench-tti.mjs 5)
