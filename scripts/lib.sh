# Helpers shared by demo.sh and bench.sh.

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
