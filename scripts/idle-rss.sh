#!/usr/bin/env bash
# Idle RSS of klais-edge, control plane on and off, alternately (machines drift; side by side is fairer).
# Method as make bench: start the edge, wait until GET /health answers, 10 s with no traffic, VmRSS from
# /proc/PID/status. Kafka is a dev cluster in its own process with the control plane's topics pre-created (as
# scripts/demo.sh). Needs scripts/publish.sh first. KLAIS_IDLE_RUNS (default 5) runs of each.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bin=${KLAIS_BIN:-out/bin} # another build's programs to compare
out=artifacts/idle-rss; mkdir -p "$out"
runs=${KLAIS_IDLE_RUNS:-5}
port=${KLAIS_BENCH_PORT:-5600}
api=127.0.0.1:${KLAIS_BENCH_API_PORT:-8600}

rm -f "$out/bootstrap"
"$bin/klais-devcluster" --topic iot_telemetry:6 --topic klais.reports:12 --topic klais.control:1 \
  --bootstrap-file "$out/bootstrap" >"$out/devcluster.log" 2>&1 &
cluster=$!
for _ in $(seq 100); do [ -s "$out/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$out/bootstrap") || { cat "$out/devcluster.log"; exit 1; }

idle_rss() { # KLAIS_CONTROL value
  KLAIS_UDP_BIND=127.0.0.1:$port KLAIS_API_BIND=$api KLAIS_LOG_LEVEL=warn KLAIS_KAFKA_BOOTSTRAP=$bootstrap \
  KLAIS_CONTROL=$1 "$bin/klais-edge" >"$out/edge.log" 2>&1 &
  local pid=$!
  wait_http "http://$api/health" 30 || { cat "$out/edge.log"; stop_pid "$pid" 20; return 1; }
  sleep 10
  awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' /proc/$pid/status
  stop_pid "$pid" 20 || true # its exit code is not what is measured here
}

on=() off=()
for _ in $(seq "$runs"); do
  off+=("$(idle_rss off)") || break
  on+=("$(idle_rss on)") || break
done
stop_pid "$cluster" 10
echo "idle RSS, KLAIS_CONTROL=on  (MB): ${on[*]}"
echo "idle RSS, KLAIS_CONTROL=off (MB): ${off[*]}"
