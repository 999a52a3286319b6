# Helpers shared by setup.sh, demo.sh and bench.sh.

# ensure_packages WHO PACKAGE...: installs the Debian packages not installed yet (apt-get as root, or through sudo);
# says which, prefixed with WHO. Fast when nothing is missing.
ensure_packages() {
  local who=$1 p; shift
  local missing=() sudo_cmd=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    echo "$who: Debian packages present"; return 0
  fi
  echo "$who: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
      echo "$who: need root (or sudo) to install: ${missing[*]}" >&2; return 1
    fi
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_http URL SECONDS: wait until URL answers 200.
wait_http() {
  local url=$1 limit=$2 i
  for ((i = 0; i < limit * 10; i++)); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $url after ${limit}s" >&2
  return 1
}

# rss_kb PID: VmRSS of PID in kB. peak_rss_kb PID WATCHED: the highest VmRSS of PID, sampled every 200 ms while the
# process WATCHED runs (call it in $( ), then wait for WATCHED in the calling shell).
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
peak_rss_kb() {
  local peak=0 r
  while kill -0 "$2" 2>/dev/null; do
    r=$(rss_kb "$1"); [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.2
  done
  echo "$peak"
}

# stat JSON_PATH: one number from the edge's /stats (API in $api).
stat() { curl -fsS "http://$api/stats" | jq -r "$1"; }

# count_topic BOOTSTRAP TOPIC: records in a topic, read from the beginning of every partition.
count_topic() { kcat -b "$1" -C -t "$2" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l; }

# stop_pid PID SECONDS: SIGTERM, wait; returns the exit code.
stop_pid() {
  local pid=$1 limit=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  wait "$pid"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now (from 20000-59999, picked at random).
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2; return 1
}

# free_udp_port: a port on which nothing has a UDP or TCP socket now (another engineer's bench may be sending to the
# fixed ports of bench.sh meanwhile).
free_udp_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$(free_port) || return 1
    [ -z "$(ss -Huan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  echo "no free UDP port found" >&2; return 1
}

# start_redis DIR: a redis-server of our own on a free port, its data in DIR (append-only file on); sets $redis_port
# and $redis_pid. Never the system's service, never 6379 by assumption.
start_redis() {
  local dir=$1 i
  mkdir -p "$dir"
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync everysec --save "" \
    --daemonize no --logfile redis.log >/dev/null 2>&1 &
  redis_pid=$!
  for ((i = 0; i < 100; i++)); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "redis-server did not answer on port $redis_port" >&2; cat "$dir/redis.log" >&2; return 1
}
