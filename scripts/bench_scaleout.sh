#!/usr/bin/env bash
# Scale-out throughput on this machine: the same batch of image jobs (creative.render, two
# formats each) through an API node and one worker, then two workers, each worker pinned to a
# core of its own (taskset), sharing PostgreSQL, Redis and an S3 server (moto) on loopback; and
# the same batch with one worker on the local asset store, for the object store's cost per
# asset. Prints a table; the figures go to BENCHMARKS.md. Not run by CI.
#   ./scripts/bench_scaleout.sh [path/to/adforge]      (JOBS=24 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bin="$(realpath "${1:-target/release/adforge}")"
jobs_n="${JOBS:-24}"
moto_bin="$(ensure_moto)"
work="$(mktemp -d /tmp/adforge-bench-scaleout.XXXXXX)"
pids=()
pg_port=$(free_port); redis_port=$(free_port); s3_port=$(free_port)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_redis "$redis_port"; stop_postgres "$work/pg"; rm -rf "$work"
}
trap cleanup EXIT
start_postgres "$work/pg" "$pg_port"
start_redis "$work/redis" "$redis_port"
"$moto_bin" -H 127.0.0.1 -p "$s3_port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$s3_port/" >/dev/null 2>&1 && break; sleep 0.2; done

key="adf_bench-scaleout-key-0123456789abcdef"
export ADFORGE_API_KEY="$key" AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port" AWS_ACCESS_KEY_ID=test \
  AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 RUST_LOG=warn
auth=(-H "authorization: Bearer $key" -H 'content-type: application/json')

# run NAME WORKERS STORE: a fresh database and bucket, the API node, WORKERS pinned workers, the
# batch; prints "jobs seconds assets".
run() {
  local name=$1 workers=$2 store=$3 db="bench_$1"
  psql "postgres://adforge@127.0.0.1:$pg_port/postgres" -qc "CREATE DATABASE $db" >/dev/null
  export DATABASE_URL="postgres://adforge@127.0.0.1:$pg_port/$db"
  export REDIS_URL="redis://127.0.0.1:$redis_port/0" ADFORGE_QUEUE_STREAM="bench:$name"
  if [ "$store" = s3 ]; then
    curl -fsS -X PUT "http://127.0.0.1:$s3_port/$name" >/dev/null
    export ADFORGE_OBJECT_STORE="s3://$name/assets"
  else
    unset ADFORGE_OBJECT_STORE
  fi
  local port; port=$(free_port)
  "$bin" serve --role api --addr "127.0.0.1:$port" --data-dir "$work/$name" >"$work/$name-api.log" 2>&1 &
  local api_pid=$!
  local started=()
  for w in $(seq 1 "$workers"); do
    taskset -c $((w - 1)) "$bin" worker --addr "127.0.0.1:$(free_port)" --worker-id "$name-w$w" \
      --workers 1 --data-dir "$work/$name" --text-model "" --embed-model "" >"$work/$name-w$w.log" 2>&1 &
    started+=($!)
  done
  wait_ready "http://127.0.0.1:$port" >/dev/null
  sleep 3 # the workers load and announce themselves
  for i in $(seq 1 "$jobs_n"); do
    curl -fsS "${auth[@]}" "http://127.0.0.1:$port/api/jobs" -d "{\"kind\": \"creative.render\",
      \"payload\": {\"copy\": {\"headline\": \"Cold brew at home $i\", \"body\": \"Smooth and strong.\",
      \"cta\": \"Shop now\"}, \"brand\": {\"primary\": \"#1A73E8\", \"secondary\": \"#0B1F3A\"},
      \"formats\": [\"meta_feed_square\", \"meta_stories\"], \"seed\": $i}}" >/dev/null
  done
  until [ "$(psql "$DATABASE_URL" -Atqc "SELECT count(*) FROM jobs WHERE state IN ('queued','running')")" = 0 ]; do
    sleep 0.2
  done
  psql "$DATABASE_URL" -Atqc "SELECT count(*), (max(finished_at) - min(created_at)) / 1000.0,
    (SELECT count(*) FROM assets) FROM jobs WHERE state = 'succeeded'" | tr '|' ' '
  kill "$api_pid" "${started[@]}" 2>/dev/null || true
  wait "$api_pid" "${started[@]}" 2>/dev/null || true
}

printf '%-24s %8s %10s %8s %8s\n' run jobs seconds jobs/s assets
results=()
for spec in "one_worker_s3 1 s3" "two_workers_s3 2 s3" "one_worker_local 1 local"; do
  set -- $spec
  read -r n secs assets < <(run "$1" "$2" "$3")
  printf '%-24s %8s %10.2f %8.2f %8s\n' "$1" "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$assets"
  results+=("$1 $n $secs $assets")
done
s3=$(echo "${results[0]}" | cut -d' ' -f3); local_s=$(echo "${results[2]}" | cut -d' ' -f3)
assets=$(echo "${results[0]}" | cut -d' ' -f4)
printf 'object store cost per asset (one worker, moto on loopback): %.1f ms\n' \
  "$(echo "($s3 - $local_s) * 1000 / $assets" | bc -l)"
