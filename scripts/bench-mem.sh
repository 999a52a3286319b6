#!/usr/bin/env bash
# Edge memory (issue 12): klais-edge's resident memory idle and at a steady 100,000 datagrams/s, and where it goes.
# The same method as sections 2 and 3 of make bench (scripts/bench.sh), without the peers and the sweep:
#  1. start-up: milliseconds from exec to the first answer of /health and of /health/ready (receiving);
#  2. idle: VmRSS 10 s after the first /health, no traffic; the breakdown by mapping (bench/mem/smaps.py) and the
#     managed heap (/stats process.*);
#  3. warm-up as make bench does (300,000 datagrams at full speed, until Kafka acknowledged them), then 100,000/s for
#     10 s (bench/sink/udp_flood, paced): VmRSS every 200 ms during the load (the highest), the breakdown at the end of
#     the load and 5 s after it.
# Kafka is a dev cluster in its own process with the control plane's topics; the edge runs with its defaults (control
# plane on) and the Dam far above the load. Needs scripts/publish.sh first. Settings:
#   KLAIS_BIN         folder with the klais-edge to measure (default out/bin; another build to compare, e.g. out/aot);
#                     klais-devcluster always comes from out/bin
#   KLAIS_MEM_ENV     extra environment for the edge only, e.g. "DOTNET_GCgen0size=0x400000 KLAIS_DEDUPE_MAX_DEVICES=65536"
#   KLAIS_MEM_RUNS    runs (default 1); KLAIS_MEM_WARMUP datagrams of the warm-up (default 300000, 0: none)
#   KLAIS_MEM_STEADY  0 measures idle and start-up only
# Results: artifacts/bench/mem-summary.txt (appended, one block per run, with the command's settings).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bin=${KLAIS_BIN:-out/bin}
out=artifacts/bench; mkdir -p "$out"
summary=$out/mem-summary.txt
runs=${KLAIS_MEM_RUNS:-1}
warmup=${KLAIS_MEM_WARMUP:-300000}
extra_env=(${KLAIS_MEM_ENV:-})
devices=10000
port=$(free_udp_port) || exit 1
api=127.0.0.1:$(free_port) || exit 1
say() { echo "$*" | tee -a "$summary"; }
make -s -C bench/sink || exit 1

next_seq=1
take() { taken=$next_seq; next_seq=$((next_seq + $1 / devices + 10)); }
flood() { # RATE COUNT (RATE 0 = full speed)
  take "$2"
  ./bench/sink/udp_flood "127.0.0.1:$port" "$devices" "$1" "$2" "$taken" >"$out/mem-flood.txt"
}
edge_delivered() { stat .kafka.delivered; }
settle() { # until the delivered count stops changing for 2 s (at most 120 s)
  local v last=-1 still=0
  for _ in $(seq 600); do
    v=$(edge_delivered); if [ "$v" -ne "$last" ]; then still=0; else still=$((still + 1)); fi
    last=$v; [ $still -ge 10 ] && break; sleep 0.2
  done
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ms_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
# snapshot LABEL: RSS breakdown by mapping and the managed heap, as one line each.
snapshot() {
  local s; s=$(curl -fsS "http://$api/stats")
  say "  $1: RSS $(mb "$(rss_kb "$edge")") MB; $(python3 bench/mem/smaps.py "$edge" --line); $(jq -r '(if .process then "managed heap \(.process.gc_heap_bytes / 1048576 * 10 | round / 10) MB in use, \(.process.gc_committed_bytes / 1048576 * 10 | round / 10) MB committed; " else "" end) + "Dam queued \(.dam.queued) so far, \(.dedupe.devices) devices in dedupe"' <<<"$s")"
}

rm -f "$out/mem-bootstrap"
out/bin/klais-devcluster --brokers 1 --topic iot_telemetry:6 --topic klais.reports:12 --topic klais.control:1 \
  --bootstrap-file "$out/mem-bootstrap" >"$out/mem-devcluster.log" 2>&1 &
cluster=$!
for _ in $(seq 100); do [ -s "$out/mem-bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$out/mem-bootstrap") || { cat "$out/mem-devcluster.log"; exit 1; }

say "# klais-edge memory $(date -u +%FT%TZ), $bin/klais-edge, KLAIS_MEM_ENV='${KLAIS_MEM_ENV:-}', warm-up $warmup; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$runs"); do
  t0=$(date +%s.%N)
  env KLAIS_UDP_BIND=127.0.0.1:$port KLAIS_API_BIND=$api KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_KAFKA_TOPIC=iot_telemetry \
    KLAIS_DAM_MAX_RATE=100000000 KLAIS_DAM_BURST_SIZE=100000000 KLAIS_LOG_LEVEL=warn "${extra_env[@]}" \
    "$bin/klais-edge" >"$out/mem-edge.$run.log" 2>&1 &
  edge=$!
  for _ in $(seq 3000); do curl -fsS -o /dev/null "http://$api/health" 2>/dev/null && break; sleep 0.01; done
  health_ms=$(ms_since "$t0")
  for _ in $(seq 3000); do curl -fsS -o /dev/null "http://$api/health/ready" 2>/dev/null && break; sleep 0.01; done
  ready_ms=$(ms_since "$t0")
  kill -0 "$edge" 2>/dev/null || { cat "$out/mem-edge.$run.log"; exit 1; }
  sleep "$(awk -v r="$ready_ms" -v h="$health_ms" 'BEGIN { printf "%.2f", 10 - (r - h) / 1000 }')"
  say "run $run: start-up: /health answered after $health_ms ms, /health/ready after $ready_ms ms; idle RSS $(mb "$(rss_kb "$edge")") MB 10 s after /health"
  snapshot "idle"
  if [ "${KLAIS_MEM_STEADY:-1}" = 1 ]; then
    if [ "$warmup" -gt 0 ]; then flood 0 "$warmup"; settle; fi
    snapshot "after the warm-up"
    base=$(edge_delivered)
    take 1000000
    ./bench/sink/udp_flood "127.0.0.1:$port" "$devices" 100000 1000000 "$taken" >"$out/mem-flood.txt" &
    gen=$!
    peak=$(peak_rss_kb "$edge" "$gen")
    wait "$gen"
    snapshot "end of the load"
    settle
    sleep 5
    say "  steady 100000/s for 10 s: RSS at most $(mb "$peak") MB during the load, $(mb "$(rss_kb "$edge")") MB 5 s after it; delivered $(( $(edge_delivered) - base )) of 1000000 sent"
    snapshot "5 s after"
  fi
  stop_pid "$edge" 20 >/dev/null
done
stop_pid "$cluster" 10
say "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
