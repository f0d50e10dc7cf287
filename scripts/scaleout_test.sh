#!/usr/bin/env bash
# Scale-out, proven on separate hosts: an API node (`serve --role api`, no models) and two
# workers (`adforge worker`), each in its own network namespace joined by veth pairs to a bridge
# that only they and this test use, sharing PostgreSQL, Redis and an S3 server (moto) that
# listen on the bridge. A batch of image and video jobs goes in through the API; both workers
# render; one worker is killed (SIGKILL) while it runs a job, which the other finishes. Checked
# afterwards: every job succeeded exactly once, both workers worked, every output is in the
# bucket exactly once (no stray or half-written object) and downloads through the API node
# (ranges included) with its recorded SHA-256, and /v1 inference is proxied to a worker.
# Everything it made (namespaces, links, services, files) is removed at exit. Needs root.
#   ./scripts/scaleout_test.sh [path/to/adforge]        (N_IMAGE=8 N_VIDEO=4 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bin="$(realpath "${1:-target/debug/adforge}")"
[ -x "$bin" ] || { log "no adforge binary at $bin"; exit 1; }
[ "$(id -u)" -eq 0 ] || { log "scale-out test: needs root for ip netns"; exit 1; }
n_image="${N_IMAGE:-8}"
n_video="${N_VIDEO:-4}"
cache="${ADFORGE_MODEL_CACHE:-$HOME/.cache/adforge/models}"
moto_bin="$(ensure_moto)"

tag="adf$$"
net="10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).0"
prefix="${net%.0}"
host_ip="$prefix.1"
work="$(mktemp -d /tmp/adforge-scaleout.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for n in api w1 w2; do ip netns del "$tag-$n" 2>/dev/null || true; done
  ip link del "br$tag" 2>/dev/null || true
  redis-cli -h "$host_ip" -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  as_pg_user "$(pg_bin_dir)/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
redis_port=0
trap cleanup EXIT

log "network: bridge br$tag $host_ip/24, hosts api .10, w1 .11, w2 .12"
ip link add "br$tag" type bridge
ip addr add "$host_ip/24" dev "br$tag"
ip link set "br$tag" up
i=10
for n in api w1 w2; do
  ip netns add "$tag-$n"
  ip link add "v$tag$n" type veth peer name eth0 netns "$tag-$n"
  ip link set "v$tag$n" master "br$tag" up
  ip netns exec "$tag-$n" ip addr add "$prefix.$i/24" dev eth0
  ip netns exec "$tag-$n" ip link set eth0 up
  ip netns exec "$tag-$n" ip link set lo up
  i=$((i + 1))
done

log "services on the bridge: PostgreSQL, Redis, moto (S3)"
pg_port=$(free_port)
mkdir -p "$work/pg"; chown postgres "$work/pg"
as_pg_user "$(pg_bin_dir)/initdb" -D "$work/pg/data" -A trust -U adforge >/dev/null
echo "host all all $net/24 trust" >> "$work/pg/data/pg_hba.conf"
as_pg_user "$(pg_bin_dir)/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $pg_port -k $work/pg -c listen_addresses=$host_ip" start >/dev/null
redis_port=$(free_port)
redis-server --port "$redis_port" --bind "$host_ip" --dir "$work" --save '' --appendonly yes \
  --daemonize yes --protected-mode no >/dev/null
s3_port=$(free_port)
"$moto_bin" -H "$host_ip" -p "$s3_port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://$host_ip:$s3_port/" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS -X PUT "http://$host_ip:$s3_port/adforge" >/dev/null

key="adf_scaleout-admin-key-0123456789abcdef"
export DATABASE_URL="postgres://adforge@$host_ip:$pg_port/postgres"
export REDIS_URL="redis://$host_ip:$redis_port/0"
export ADFORGE_OBJECT_STORE="s3://adforge/assets" AWS_ENDPOINT_URL="http://$host_ip:$s3_port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export ADFORGE_API_KEY="$key" ADFORGE_VISIBILITY_TIMEOUT_SECS=5 RUST_LOG="${RUST_LOG:-info}"
export ADFORGE_MODEL_CACHE="$cache"

"$bin" migrate >/dev/null
start_node() { # name role-args...
  local name=$1; shift
  ip netns exec "$tag-$name" "$bin" "$@" --data-dir "$work/$name" --web-dir "$work/none" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  echo $!
}
api="http://$prefix.10:8080"
start_node api serve --role api --addr "$prefix.10:8080" >/dev/null
w1=$(start_node w1 worker --addr "$prefix.11:8080" --worker-id w1 --workers 1 --embed-model "")
start_node w2 worker --addr "$prefix.12:8080" --worker-id w2 --workers 1 --embed-model "" >/dev/null
wait_ready "$api" || { tail -30 "$work/api.log"; exit 1; }

psql_q() { psql "$DATABASE_URL" -Atqc "$1"; }
auth=(-H "authorization: Bearer $key" -H 'content-type: application/json')
for _ in $(seq 1 100); do
  [ "$(curl -fsS "${auth[@]}" "$api/api/workers" | jq '.workers | length')" = 2 ] && break
  sleep 0.3
done
curl -fsS "${auth[@]}" "$api/api/workers" | jq -e '.role == "api" and (.workers | length) == 2' >/dev/null \
  || { log "the two workers did not announce themselves"; tail -20 "$work/w1.log"; exit 1; }

log "inference through the API node goes to a worker"
answer=$(curl -fsS -D "$work/headers" "${auth[@]}" "$api/v1/chat/completions" -d \
  '{"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 8}')
jq -e '.choices[0].message.content | length > 0' <<<"$answer" >/dev/null
grep -qi '^x-adforge-worker: w[12]' "$work/headers" || { log "no worker answered"; exit 1; }

log "a batch of $n_image image and $n_video video jobs"
copy='{"headline": "Cold brew at home", "body": "Smooth, strong, ready in a minute.", "cta": "Shop now"}'
brand='{"primary": "#1A73E8", "secondary": "#0B1F3A"}'
ids=()
for i in $(seq 1 "$n_image"); do
  ids+=("$(curl -fsS "${auth[@]}" "$api/api/jobs" -d "{\"kind\": \"creative.render\", \"idempotency_key\": \"img-$i\",
    \"payload\": {\"copy\": $copy, \"brand\": $brand, \"formats\": [\"meta_feed_square\", \"meta_stories\"], \"seed\": $i}}" | jq -r .id)")
done
for i in $(seq 1 "$n_video"); do
  ids+=("$(curl -fsS "${auth[@]}" "$api/api/jobs" -d "{\"kind\": \"video.render\", \"idempotency_key\": \"vid-$i\",
    \"payload\": {\"copy\": $copy, \"brand\": $brand, \"formats\": [\"tiktok_in_feed\"], \"seconds\": 6, \"fps\": 24,
    \"scale\": 0.25, \"preview\": \"none\", \"seed\": $i}}" | jq -r .id)")
done
total=${#ids[@]}

log "waiting for w1 to be running a job, then killing it"
# w1 is frozen (SIGSTOP) before the job is checked again: a job that w1 finished in the moment
# between the first look and the kill would otherwise be taken for the killed one.
victim=""
for _ in $(seq 1 600); do
  victim=$(psql_q "SELECT id FROM jobs WHERE state = 'running' AND worker_id = 'w1' LIMIT 1")
  done_jobs=$(psql_q "SELECT count(*) FROM jobs WHERE state = 'succeeded'")
  if [ -n "$victim" ] && [ "$done_jobs" -ge 1 ]; then
    kill -STOP "$w1"
    sleep 0.3 # a commit already on its way lands first
    [ "$(psql_q "SELECT state FROM jobs WHERE id = '$victim'")" = running ] && break
    kill -CONT "$w1"
    victim=""
  fi
  sleep 0.2
done
[ -n "$victim" ] || { log "w1 never ran a job"; tail -30 "$work/w1.log"; exit 1; }
kill -9 "$w1"
log "killed w1 (pid $w1) while it ran job $victim"

for _ in $(seq 1 900); do
  left=$(psql_q "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")
  [ "$left" = 0 ] && break
  sleep 0.5
done
[ "$left" = 0 ] || { log "$left jobs never finished"; tail -30 "$work/w2.log"; exit 1; }

log "checking: every job once, both workers, every object once and downloadable"
fail() { log "FAILED: $*"; exit 1; }
succeeded=$(psql_q "SELECT count(*) FROM jobs WHERE state = 'succeeded'")
[ "$succeeded" = "$total" ] || fail "$succeeded of $total jobs succeeded: $(psql_q "SELECT id, state, error FROM jobs WHERE state <> 'succeeded'")"
[ "$(psql_q "SELECT worker_id FROM jobs WHERE id = '$victim'")" = w2 ] || fail "the killed worker's job was not finished by w2"
[ "$(psql_q "SELECT attempts FROM jobs WHERE id = '$victim'")" -ge 2 ] || fail "the killed worker's job was not reclaimed"
w1_done=$(psql_q "SELECT count(*) FROM jobs WHERE worker_id = 'w1' AND state = 'succeeded'")
w2_done=$(psql_q "SELECT count(*) FROM jobs WHERE worker_id = 'w2' AND state = 'succeeded'")
[ "$w1_done" -ge 1 ] && [ "$w2_done" -ge 1 ] || fail "both workers should have rendered (w1 $w1_done, w2 $w2_done)"
expected_assets=$((n_image * 4 + n_video * 2))
rows=$(psql_q "SELECT count(*) FROM assets")
[ "$rows" = "$expected_assets" ] || fail "$rows asset rows, expected $expected_assets"
psql_q "SELECT path FROM assets ORDER BY path" | sed 's|^s3://adforge/||' > "$work/rows.txt"
curl -fsS "http://$host_ip:$s3_port/adforge?list-type=2&max-keys=1000" \
  | grep -o '<Key>[^<]*</Key>' | sed 's|<Key>||; s|</Key>||' | sort > "$work/keys.txt"
diff "$work/rows.txt" "$work/keys.txt" >/dev/null || fail "bucket and rows differ: $(diff "$work/rows.txt" "$work/keys.txt" | head)"
while IFS='|' read -r id sha bytes; do
  got=$(curl -fsS "${auth[@]}" "$api/api/assets/$id/content" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$sha" ] || fail "asset $id downloads with sha256 $got, recorded $sha"
done < <(psql_q "SELECT id, sha256, bytes FROM assets")
video=$(psql_q "SELECT id FROM assets WHERE content_type = 'video/mp4' LIMIT 1")
status=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -H 'range: bytes=100-199' "$api/api/assets/$video/content")
[ "$status" = 206 ] || fail "a range of a video answered $status"
presigned=$(curl -fsS "${auth[@]}" "$api/api/assets/$video/url" | jq -r .url)
[ "$(curl -fsS "$presigned" | sha256sum | cut -d' ' -f1)" = "$(psql_q "SELECT sha256 FROM assets WHERE id = '$video'")" ] \
  || fail "the presigned URL did not give the video"
log "scale-out: $total jobs, w1 $w1_done and w2 $w2_done, job $victim finished by w2 after the kill; $rows objects, each once"
