#!/usr/bin/env bash
# The dashboard's tests: builds web/ (npm ci, the static export), runs its component tests
# (Vitest), then the end-to-end specs in Debian's Chromium (Playwright, no browser download)
# against the real adforge binary on the embedded default with the sandbox platform: two users,
# a fresh data dir, a free loopback port; everything is stopped afterwards. First the built export
# alone (e2e:static: sign-in under the CSP, tables at 1366 and 375 px). Screenshots land in
# web/e2e/screenshots/. Run by scripts/test.sh; usable alone after `cargo build`.
#   ./scripts/web_test.sh [path/to/adforge]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bin="${1:-target/debug/adforge}"
[ -x "$bin" ] || { log "no adforge binary at $bin: cargo build first"; exit 1; }

build_web
log "web: component tests (vitest)"
(cd web && npm test --silent)
log "web: the built export alone in Chromium (no API): sign-in, CSP, tables that break no word"
(cd web && npm run e2e:static --silent)

work=$(mktemp -d /tmp/adforge-web.XXXXXX)
port=$(free_port)
base="http://127.0.0.1:$port"
key="adf_web-e2e-admin-key-0123456789abcdef"
email1="marketer@example.com" pass1="correct horse battery 1"
email2="other@example.com" pass2="correct horse battery 2"
ADFORGE_API_KEY="$key" ADFORGE_ADMIN_EMAIL="$email1" ADFORGE_ADMIN_PASSWORD="$pass1" \
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work" --web-dir web/out \
  --model-cache "${ADFORGE_MODEL_CACHE:-$HOME/.cache/adforge/models}" --embed-model "" \
  >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "$base" || { tail -50 "$work/serve.log"; exit 1; }
curl -fsS "$base/api/users" -H "authorization: Bearer $key" -H 'content-type: application/json' \
  -d "{\"email\": \"$email2\", \"password\": \"$pass2\", \"role\": \"member\"}" >/dev/null

log "web: end-to-end in Chromium against $base"
status=0
(cd web && BASE_URL="$base" ADFORGE_E2E_EMAIL="$email1" ADFORGE_E2E_PASSWORD="$pass1" \
  ADFORGE_E2E_EMAIL2="$email2" ADFORGE_E2E_PASSWORD2="$pass2" npx playwright test) || status=$?
if [ "$status" -ne 0 ]; then
  log "end-to-end failed; the server's last log lines:"
  tail -40 "$work/serve.log"
fi
exit "$status"
