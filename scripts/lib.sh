# Shared helpers for scripts/*.sh: installing what is missing, free ports, throwaway services.
# Sourced, not run.

# Debian packages the build and the tests need. Installed only when missing (idempotent).
ADFORGE_APT_PACKAGES=(
  pkg-config clang libclang-dev g++
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev ffmpeg
  postgresql redis-server
  python3 python3-pip python3-venv npm ca-certificates curl jq iproute2
  chromium
)

# Every line says the wall-clock time and the minutes since the first script started, so a
# CI log shows where the time goes.
ADFORGE_LOG_T0="${ADFORGE_LOG_T0:-$(date +%s)}"
export ADFORGE_LOG_T0
log() {
  local now; now=$(date +%s)
  printf '\033[1m[adforge %s +%dm%02ds]\033[0m %s\n' "$(date -u +%H:%M:%S)" \
    $(((now - ADFORGE_LOG_T0) / 60)) $(((now - ADFORGE_LOG_T0) % 60)) "$*" >&2
}

ensure_apt_packages() {
  local missing=()
  for pkg in "${ADFORGE_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  # python3/npm may come from elsewhere (pyenv, nodesource): a working command is enough.
  local wanted=()
  for pkg in "${missing[@]}"; do
    case "$pkg" in
      python3|python3-pip) command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 && continue ;;
      python3-venv) command -v python3 >/dev/null && python3 -m venv --help >/dev/null 2>&1 && continue ;;
      npm) command -v npm >/dev/null && continue ;;
    esac
    wanted+=("$pkg")
  done
  if [ ${#wanted[@]} -eq 0 ]; then
    return 0
  fi
  log "installing Debian packages: ${wanted[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${wanted[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    log "cargo not found: install Rust (https://rustup.rs) and run this again"
    exit 1
  fi
}

# Waits up to a minute for an adforge server at $1 (http://HOST:PORT) to answer /ready.
wait_ready() {
  for _ in $(seq 1 120); do
    curl -fsS "$1/ready" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "no answer from $1/ready after 60 s"
  return 1
}

# For the docs scripts: starts `$1 serve` on a free port with a fresh data dir and the default
# model cache (no embedding model), sets $work, $base and $server, removes both on exit, waits
# until it is ready, and writes the brand photo of tests/fixtures/esrgan as an upscale request
# to $work/upscale.json. ADFORGE_API_KEY must be set.
serve_docs_server() {
  work="$(mktemp -d)"
  local port
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  "$1" serve --addr "127.0.0.1:$port" --data-dir "$work" \
    --model-cache "${ADFORGE_MODEL_CACHE:-$HOME/.cache/adforge/models}" --embed-model "" >"$work/serve.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
  wait_ready "$base"
  python3 - "$work" <<'PY'
import base64, json, sys
photo = base64.b64encode(open("tests/fixtures/esrgan/fixture.png", "rb").read()).decode()
json.dump({"image": photo, "scale": 4}, open(f"{sys.argv[1]}/upscale.json", "w"))
PY
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a PostgreSQL tool as the `postgres` user when we are root (initdb refuses root).
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# start_postgres DIR PORT: a throwaway cluster in DIR listening on 127.0.0.1:PORT.
start_postgres() {
  local dir=$1 port=$2 bin
  bin=$(pg_bin_dir)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    # mktemp makes folders only root can enter; the postgres user must reach $dir.
    chmod a+x "$(dirname "$dir")"
  fi
  as_pg_user "$bin/initdb" -D "$dir/data" -A trust -U adforge >/dev/null
  resume_postgres "$dir" "$port"
}

# resume_postgres DIR PORT: starts the cluster start_postgres made in DIR again (after stop_postgres).
resume_postgres() {
  local dir=$1 port=$2
  as_pg_user "$(pg_bin_dir)/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
}

stop_postgres() {
  local dir=$1
  as_pg_user "$(pg_bin_dir)/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}

# start_redis DIR PORT
start_redis() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly yes \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "redis did not start; see $dir/redis.log"
  return 1
}

stop_redis() {
  local port=$1
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

# Builds the dashboard (web/ -> web/out) when it is missing or older than its sources:
# `npm ci` when node_modules is older than package-lock.json, then the static export.
build_web() {
  command -v npm >/dev/null || { log "npm not found: the dashboard is not built"; return 0; }
  export NEXT_TELEMETRY_DISABLED=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
    log "web: npm ci"
    (cd web && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
  if [ ! -f web/out/index.html ] || [ -n "$(find web/app web/components web/lib web/public web/package.json \
      web/next.config.mjs -newer web/out/index.html -print -quit 2>/dev/null)" ]; then
    log "web: building the dashboard (static export)"
    (cd web && npm run build --silent)
  fi
}

# moto's S3 server in a venv under ~/.cache/adforge (installed once from PyPI); prints the path
# of its `moto_server`.
ensure_moto() {
  local venv="${ADFORGE_MOTO_VENV:-$HOME/.cache/adforge/moto-venv}"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto (an S3-compatible server for the tests) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'moto[server]==5.*' >&2
  fi
  echo "$venv/bin/moto_server"
}
