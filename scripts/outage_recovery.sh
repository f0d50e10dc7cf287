#!/usr/bin/env bash
# Outage recovery time: a server on PostgreSQL and Redis (both its own, on loopback) is asked
# for /ready every 100 ms while PostgreSQL, then Redis, is stopped for OUTAGE seconds and
# started again. Prints, per dependency: whether /ready turned 503 with Retry-After during the
# outage, whether /health kept answering, and the time from the dependency being back (its
# port accepting connections) to /ready answering 200 again. Figures go to RELIABILITY.md
# (the tests in tests/it/api.rs assert the behaviour; this measures it). Not run by CI.
#   ./scripts/outage_recovery.sh [path/to/adforge]      (OUTAGE=5)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bin="${1:-target/debug/adforge}"
outage="${OUTAGE:-5}"
work=$(mktemp -d /tmp/adforge-outage.XXXXXX)
pg_port=$(free_port); redis_port=$(free_port); port=$(free_port)
base="http://127.0.0.1:$port"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  stop_redis "$redis_port"; stop_postgres "$work/pg"; rm -rf "$work"
}
trap cleanup EXIT
start_postgres "$work/pg" "$pg_port"
start_redis "$work/redis" "$redis_port"
DATABASE_URL="postgres://adforge@127.0.0.1:$pg_port/postgres" REDIS_URL="redis://127.0.0.1:$redis_port/0" \
ADFORGE_API_KEY="adf_outage-key-0123456789abcdef" RUST_LOG=warn \
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --web-dir "$work/none" \
  --text-model "" --embed-model "" >"$work/serve.log" 2>&1 &
server=$!
wait_ready "$base"

now_ms() { date +%s%3N; }
ready_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/ready"; }

measure() { # name stop-cmd start-cmd port
  local name=$1 stop=$2 start=$3 dep_port=$4
  local saw_503=no retry_after=no health_ok=yes slowest=0
  eval "$stop"
  local until=$(( $(now_ms) + outage * 1000 ))
  while [ "$(now_ms)" -lt "$until" ]; do
    # One request: its status line and headers, and how long it took.
    local t0 took headers; t0=$(now_ms)
    headers=$(curl -s -D - -o /dev/null --max-time 2 "$base/ready" || true)
    took=$(( $(now_ms) - t0 ))
    [ "$took" -gt "$slowest" ] && slowest=$took
    if [[ "$headers" == "HTTP/1.1 503"* ]]; then
      saw_503=yes
      grep -qi '^retry-after:' <<<"$headers" && retry_after=yes
    fi
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/health")" = 200 ] || health_ok=no
    sleep 0.1
  done
  eval "$start"
  until (exec 3<>"/dev/tcp/127.0.0.1/$dep_port") 2>/dev/null; do sleep 0.02; done
  local back; back=$(now_ms)
  until [ "$(ready_code)" = 200 ]; do sleep 0.1; done
  printf '%-12s /ready 503 during outage: %s (Retry-After: %s, slowest answer %s ms); /health throughout: %s; ready again %s ms after it was back\n' \
    "$name" "$saw_503" "$retry_after" "$slowest" "$health_ok" "$(( $(now_ms) - back ))"
}
measure postgresql "stop_postgres $work/pg" "resume_postgres $work/pg $pg_port" "$pg_port"
measure redis "stop_redis $redis_port" \
  "start_redis $work/redis $redis_port" \
  "$redis_port"
