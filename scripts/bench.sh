#!/usr/bin/env bash
# make bench: the edge's figures, each side by side with its baseline in the same run (machines are noisy).
#  1. Throughput: datagrams/s counted by a minimal C recvmmsg sink vs records/s klais-edge delivers to Kafka,
#     both fed by the same klais-loadgen command (Dam limit far above the offered load).
#  2. Receive-to-enqueue latency P50/P99 from the edge's histogram during that run.
#  3. Idle RSS of klais-edge (external Kafka, and the embedded dev cluster).
#  4. BenchmarkDotNet: Dam vs TokenBucketRateLimiter, zero-allocation receive/parse/Dam path, produce bytes/record.
#  5. XDP: a 90%-garbage flood over a veth, with and without the filter (scripts/bench-xdp.sh; KLAIS_BENCH_XDP=0 skips).
#  6. Reconnect storm: 1k/10k/100k offline devices flush their history at once beside live traffic, the swarm's burst
#     advice on and off; recovery time and loss (scripts/bench-storm.sh; KLAIS_BENCH_STORM=0 skips).
# Results: artifacts/bench/summary.txt (copy figures into docs/BENCHMARKS.md with this command).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bin=out/bin
out=artifacts/bench; mkdir -p "$out"
summary=$out/summary.txt; : >"$summary"
count=${KLAIS_BENCH_DATAGRAMS:-3000000}
port=${KLAIS_BENCH_PORT:-5600}
api=127.0.0.1:${KLAIS_BENCH_API_PORT:-8600}
rounds=${KLAIS_BENCH_ROUNDS:-3}
say() { echo "$*" | tee -a "$summary"; }
sender=("$bin/klais-loadgen" --target "127.0.0.1:$port" --devices 10000 --rate 0 --count "$count" --payload-bytes 60)
# The edge's warm-up before each timed run: the same flood, shorter, from other sequence numbers (dedupe must not
# drop the timed run's datagrams as duplicates).
warmup=("$bin/klais-loadgen" --target "127.0.0.1:$port" --devices 10000 --rate 0 --count 300000 --payload-bytes 60 --start-seq 3000000000)

say "# klais bench $(date -u +%FT%TZ) on $(nproc) cores; kernel $(uname -r)"
say "sender: ${sender[*]}"

# Kafka for the edge: a dev cluster in its own process, as a broker would be, with the control plane's topics (the
# edge reports and follows klais.control by default).
"$bin/klais-devcluster" --brokers 1 --topic iot_telemetry:6 --topic klais.reports:12 --topic klais.control:1 >"$out/devcluster.out" 2>"$out/devcluster.err" &
cluster=$!
for _ in $(seq 100); do grep -q '^bootstrap=' "$out/devcluster.out" && break; sleep 0.1; done
bootstrap=$(sed -n 's/^bootstrap=//p' "$out/devcluster.out" | head -1)
[ -n "$bootstrap" ] || { echo "dev cluster did not start" >&2; cat "$out/devcluster.err"; exit 1; }

for round in $(seq "$rounds"); do
  # 1a. C sink
  ./bench/sink/udp_sink "$port" 1000 >"$out/sink.$round.txt" &
  sink=$!
  sleep 0.3
  "${sender[@]}" >"$out/sender-sink.$round.json" 2>/dev/null
  wait "$sink"
  sink_rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' "$out/sink.$round.txt")
  sink_recv=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' "$out/sink.$round.txt")

  # 1b. klais-edge
  KLAIS_UDP_BIND=127.0.0.1:$port KLAIS_API_BIND=$api KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_KAFKA_TOPIC=iot_telemetry \
  KLAIS_DAM_MAX_RATE=100000000 KLAIS_DAM_BURST_SIZE=100000000 KLAIS_LOG_LEVEL=warn \
    "$bin/klais-edge" >"$out/edge.$round.log" 2>&1 &
  edge=$!
  wait_http "http://$api/health" 30 || { cat "$out/edge.$round.log"; exit 1; }
  # Warm-up: the timed run measures the edge's steady state, not tier-0 JIT code and first-touch memory (the C sink
  # has neither). Wait until Kafka acknowledged everything the warm-up brought in.
  "${warmup[@]}" >/dev/null 2>&1
  for _ in $(seq 150); do
    read -r wr wd < <(curl -fsS "http://$api/stats" | jq -r '"\(.receive.datagrams) \(.kafka.delivered)"')
    [ "$wd" -ge "$wr" ] && break; sleep 0.2
  done
  base=$(stat .kafka.delivered); rbase=$(stat .receive.datagrams); kbase=$(stat .receive.kernel_drops)
  "${sender[@]}" >"$out/sender-edge.$round.json" 2>/dev/null &
  gen=$!
  # Poll every 200 ms with one curl and one jq (heavier polling steals CPU from the edge on 2 cores):
  # rate = records acknowledged / (last change of the count - first datagram seen); the 200 ms granularity is
  # under 3% of a run of this size.
  t0="" t1="" last=-1 still=0
  while :; do
    now=$(date +%s.%N)
    read -r recv del < <(curl -fsS "http://$api/stats" | jq -r '"\(.receive.datagrams) \(.kafka.delivered)"')
    del=$((del - base))
    [ -z "$t0" ] && [ "$recv" -gt "$rbase" ] && t0=$now
    if [ "$del" -eq "$last" ] && ! kill -0 "$gen" 2>/dev/null; then still=$((still + 1)); else still=0; t1=$now; fi
    last=$del
    [ $still -ge 10 ] && break
    sleep 0.2
  done
  s=$(curl -fsS "http://$api/stats")
  wait "$gen"
  edge_rate=$(awk -v n="$last" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  p50=$(jq .latency.receive_to_enqueue_p50_us <<<"$s"); p99=$(jq .latency.receive_to_enqueue_p99_us <<<"$s")
  kdrops=$(( $(jq .receive.kernel_drops <<<"$s") - kbase )); erecv=$(( $(jq .receive.datagrams <<<"$s") - rbase ))
  stop_pid "$edge" 20
  ratio=$(awk -v e="$edge_rate" -v s="$sink_rate" 'BEGIN { printf "%.2f", e / s }')
  say "round $round: C sink ${sink_rate}/s ($sink_recv received) | klais-edge ${edge_rate}/s delivered to Kafka ($last delivered, $erecv received, $kdrops kernel drops) | ratio $ratio | receive-to-enqueue p50 ${p50} us p99 ${p99} us"
done

# 2b. Latency at a steady, moderate load (not saturating): 50000 datagrams/s for 6 s.
KLAIS_UDP_BIND=127.0.0.1:$port KLAIS_API_BIND=$api KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_LOG_LEVEL=warn \
KLAIS_DAM_MAX_RATE=100000000 KLAIS_DAM_BURST_SIZE=100000000 "$bin/klais-edge" >"$out/edge.steady.log" 2>&1 &
edge=$!
wait_http "http://$api/health" 30 || exit 1
"$bin/klais-loadgen" --target "127.0.0.1:$port" --devices 10000 --rate 50000 --duration 6 --payload-bytes 60 >/dev/null 2>&1
sleep 1
s=$(curl -fsS "http://$api/stats")
rss_loaded=$(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$edge/status)
say "steady 50000/s for 6 s: RSS after the load $rss_loaded; receive-to-enqueue p50 $(jq .latency.receive_to_enqueue_p50_us <<<"$s") us, p99 $(jq .latency.receive_to_enqueue_p99_us <<<"$s") us, p99.9 $(jq .latency.receive_to_enqueue_p999_us <<<"$s") us; delivered $(jq .kafka.delivered <<<"$s") of $(jq .receive.datagrams <<<"$s") received, $(jq .receive.kernel_drops <<<"$s") kernel drops"
stop_pid "$edge" 20

# 3. Idle RSS: 10 s after the API answered its first /health, no traffic.
idle_rss() { # label, extra env...
  local label=$1; shift
  env KLAIS_UDP_BIND=127.0.0.1:$port KLAIS_API_BIND=$api KLAIS_LOG_LEVEL=warn "$@" "$bin/klais-edge" >"$out/idle.log" 2>&1 &
  local pid=$!
  wait_http "http://$api/health" 30 || return 1
  sleep 10
  say "idle RSS ($label): $(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status)"
  stop_pid "$pid" 20
}
idle_rss "external Kafka (control plane on, the default: reports + klais.control follower)" KLAIS_KAFKA_BOOTSTRAP="$bootstrap"
idle_rss "external Kafka, KLAIS_CONTROL=off" KLAIS_KAFKA_BOOTSTRAP="$bootstrap" KLAIS_CONTROL=off
idle_rss "embedded dev cluster"
stop_pid "$cluster" 10

# 4. Micro-benchmarks (BenchmarkDotNet, [MemoryDiagnoser]); KLAIS_BENCH_MICRO=0 skips them.
if [ "${KLAIS_BENCH_MICRO:-1}" = 1 ]; then
  dotnet run -c Release --project bench/Klais.Benchmarks --no-launch-profile -- \
    --filter '*' --job short --exporters markdown --artifacts "$out/bdn" >"$out/bdn.log" 2>&1 || { tail -30 "$out/bdn.log"; exit 1; }
  for f in "$out"/bdn/results/*-report-github.md; do
    say ""; say "$(basename "$f" -report-github.md):"; grep '^|' "$f" | tee -a "$summary" >/dev/null
  done
fi

# 5. The XDP filter against a garbage flood (scripts/bench-xdp.sh, its own summary); KLAIS_BENCH_XDP=0 skips it.
if [ "${KLAIS_BENCH_XDP:-1}" = 1 ]; then
  say ""; say "XDP (scripts/bench-xdp.sh, artifacts/bench/xdp-summary.txt):"
  ./scripts/bench-xdp.sh >/dev/null || { cat "$out/xdp-summary.txt"; exit 1; }
  tee -a "$summary" >/dev/null <"$out/xdp-summary.txt"
fi
# 6. The reconnect storm (scripts/bench-storm.sh, its own summary); KLAIS_BENCH_STORM=0 skips it.
if [ "${KLAIS_BENCH_STORM:-1}" = 1 ]; then
  say ""; say "Reconnect storm (scripts/bench-storm.sh, artifacts/bench/storm-summary.txt):"
  ./scripts/bench-storm.sh >/dev/null || { cat "$out/storm-summary.txt"; exit 1; }
  tee -a "$summary" >/dev/null <"$out/storm-summary.txt"
fi
echo; cat "$summary"
