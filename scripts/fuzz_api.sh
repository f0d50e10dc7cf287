#!/usr/bin/env bash
# Schema fuzzing: schemathesis (PyPI, in a venv under ~/.cache/adforge) generates requests for
# every operation of the server's own /openapi.json, with a valid API key and with none, against
# a server started with small limits (context, image side and steps, video frames, bodies) so
# generated requests finish quickly. Checked on every response: no 5xx (other than 503 with
# Retry-After), the status code and content type documented for the operation, the body
# matching its documented schema (the error envelope included). Exit status non-zero on any
# failure; the summary goes to stdout (figures for RELIABILITY.md).
#   ./scripts/fuzz_api.sh [path/to/adforge]        EXAMPLES=5 by default (the CI form);
#   EXAMPLES=100 for the long form.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bin="${1:-target/debug/adforge}"
examples="${EXAMPLES:-5}"
venv="${ADFORGE_SCHEMATHESIS_VENV:-$HOME/.cache/adforge/schemathesis-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  log "installing schemathesis into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis==3.39.*' 'hypothesis<6.115' >&2
fi

work=$(mktemp -d /tmp/adforge-fuzz.XXXXXX)
reports="${FUZZ_REPORTS:-target/fuzz-api}"
mkdir -p "$reports"
port=$(free_port)
base="http://127.0.0.1:$port"
key="adf_fuzz-admin-key-0123456789abcdef"
ADFORGE_API_KEY="$key" ADFORGE_MAX_CONTEXT=256 ADFORGE_MAX_IMAGE_SIDE=128 ADFORGE_MAX_IMAGE_STEPS=2 \
ADFORGE_MAX_VIDEO_FRAMES=48 ADFORGE_MAX_BODY_BYTES=65536 ADFORGE_RATE_LIMIT_BURST=100000 \
ADFORGE_RATE_LIMIT_PER_MINUTE=100000 RUST_LOG=warn \
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work" --web-dir "$work/none" \
  --model-cache "${ADFORGE_MODEL_CACHE:-$HOME/.cache/adforge/models}" --embed-model "" \
  >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "$base"

run() { # label, extra schemathesis args...
  local label=$1; shift
  log "schemathesis ($label): $examples examples per operation"
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$PWD/scripts" \
  "$venv/bin/schemathesis" run "$base/openapi.json" --experimental=openapi-3.1 \
    --checks "$CHECKS" --hypothesis-max-examples "$examples" --hypothesis-deadline None \
    --hypothesis-suppress-health-check all --hypothesis-derandomize \
    --request-timeout 60000 --workers 1 --show-trace --no-color \
    --exclude-path-regex '^/api/(events|jobs/\{id\}/events)$|/events$' \
    "$@" > "$reports/$label.txt" 2>&1
  local rc=$?
  grep -E '^=+ .*(passed|failed|errored).* =+$' "$reports/$label.txt" || tail -5 "$reports/$label.txt"
  return "$rc"
}
# schemathesis's own not_a_server_error refuses every 5xx; the hook allows 503 with Retry-After.
CHECKS=no_5xx_but_503_with_retry_after,status_code_conformance,content_type_conformance
CHECKS=$CHECKS,response_headers_conformance,response_schema_conformance,negative_data_rejection
set +e
status=0
run with-key -H "Authorization: Bearer $key" || status=1
run without-key --generation-with-security-parameters false || status=1
run wrong-key -H "Authorization: Bearer adf_not-a-key-of-this-server-0000" || status=1
if ! kill -0 "$server" 2>/dev/null; then
  log "the server died during fuzzing"; tail -40 "$work/serve.log"; exit 1
fi
grep -E ' 5[0-9][0-9] ' "$work/serve.log" | grep -v ' 503 ' | head -5 || true
exit "$status"
