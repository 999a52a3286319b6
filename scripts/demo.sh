#!/usr/bin/env bash
# make demo: klais-edge on its embedded defaults (in-memory Kafka dev cluster), fed by klais-loadgen for about
# 30 s. Prints live rates each second and, at the end, how many records Kafka holds. Ctrl-C ends it early.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bin=out/bin
logs=out/demo; mkdir -p "$logs"
duration=${KLAIS_DEMO_SECONDS:-30}
rate=${KLAIS_DEMO_RATE:-14000}
api=127.0.0.1:8080
export KLAIS_UDP_BIND=${KLAIS_UDP_BIND:-127.0.0.1:5000}

echo "demo: starting klais-edge (Dam 10000/s, burst 50000; Kafka: embedded in-memory dev cluster)"
"$bin/klais-edge" >"$logs/edge.log" 2>&1 &
edge=$!
trap 'kill -TERM $edge $gen 2>/dev/null' EXIT
wait_http "http://$api/health" 30 || { cat "$logs/edge.log"; exit 1; }
bootstrap=$(curl -fsS "http://$api/health" | jq -r .kafka.bootstrap)
echo "demo: edge up; API http://$api (health, stats, metrics); Kafka $bootstrap"
echo "demo: klais-loadgen sends $rate datagrams/s from 2000 devices for ${duration}s, 2% malformed."
echo "      Above the Dam's 10000/s: the burst of 50000 absorbs the excess for a while, then records queue"
echo "      (FIFO, bounded) and drain once the load stops. Nothing valid is lost unless the queue fills."

"$bin/klais-loadgen" --target "$KLAIS_UDP_BIND" --devices 2000 --rate "$rate" --duration "$duration" \
  --bad-share 0.02 >"$logs/loadgen.json" 2>"$logs/loadgen.log" &
gen=$!
stopped=0
trap 'stopped=1; kill -INT $gen 2>/dev/null' INT

printf '%5s %10s %10s %10s %10s %8s %8s\n' sec recv/s pass/s kafka/s queue dropped rejected
prev_r=0 prev_p=0 prev_k=0 t=0 prev_ts=$(date +%s.%N)
while kill -0 "$gen" 2>/dev/null || [ "$(stat '.dam.queue_depth + .kafka.in_flight')" != 0 ]; do
  sleep 1; t=$((t + 1))
  s=$(curl -fsS "http://$api/stats") || break
  now=$(date +%s.%N)
  r=$(jq '.dam.received' <<<"$s"); p=$(jq '.dam.passed' <<<"$s"); k=$(jq '.kafka.delivered' <<<"$s")
  per_s() { awk -v d="$1" -v a="$prev_ts" -v b="$now" 'BEGIN { printf "%d", d / (b - a) }'; }
  printf '%5d %10d %10d %10d %10d %8d %8d\n' "$t" "$(per_s $((r - prev_r)))" "$(per_s $((p - prev_p)))" "$(per_s $((k - prev_k)))" \
    "$(jq '.dam.queue_depth' <<<"$s")" "$(jq '.dam.dropped' <<<"$s")" "$(jq '[.rejected[]] | add' <<<"$s")"
  prev_r=$r prev_p=$p prev_k=$k prev_ts=$now
  [ $t -gt $((duration + 60)) ] && break
done
wait "$gen" 2>/dev/null
trap - INT

s=$(curl -fsS "http://$api/stats")
in_kafka=$(count_topic "$bootstrap" "$(curl -fsS "http://$api/health" | jq -r .kafka.topic)")
echo
echo "demo: load generator: $(cat "$logs/loadgen.json")"
echo "demo: edge rejected: $(jq -c .rejected <<<"$s")"
echo "demo: edge: received $(jq .dam.received <<<"$s"), passed $(jq .dam.passed <<<"$s"), dropped $(jq .dam.dropped <<<"$s"); Kafka acknowledged $(jq .kafka.delivered <<<"$s")"
echo "demo: p50/p99 receive-to-enqueue: $(jq -r '"\(.latency.receive_to_enqueue_p50_us) / \(.latency.receive_to_enqueue_p99_us) µs"' <<<"$s")"
echo "demo: records read back from Kafka (kcat, topic from the beginning): $in_kafka"
stop_pid "$edge" 20; code=$?
trap - EXIT
echo "demo: klais-edge exited with $code after SIGTERM"
