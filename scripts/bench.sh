#!/usr/bin/env bash
# make bench: the edge's figures, each side by side with its peers in the same run (machines are noisy).
#  1. Against peers, every one fed by the same C sender (bench/sink/udp_flood: sendmmsg, 64 per call, one thread;
#     10,000 devices, 60-byte payloads): the C recvmmsg sink (the ceiling), a Python asyncio receiver, rsyslog's
#     imudp -> omkafka (Debian rsyslog-kafka, installed here; the edge's Kafka settings), the librdkafka floor
#     (bench/sink/udp_kafka: the least a UDP -> Kafka forwarder on librdkafka does) and klais-edge in each
#     record format (KLAIS_BENCH_FORMATS, default "headers envelope": KLAIS_KAFKA_RECORD_FORMAT, docs/kafka.md).
#     a. the sender at full speed: received/s (sinks) and delivered to Kafka/s (edge, rsyslog);
#     b. an offered-load sweep (KLAIS_BENCH_SWEEP rates, 5 s each): delivered share, kernel drops and the
#        forwarder's CPU per delivered record at each rate, and the highest rate with no loss.
#  2. Receive-to-enqueue latency P50/P99 from the edge's histogram during that run; RSS at a steady 100k/s.
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
# Whatever this script started and has not stopped yet (an early exit), stopped by PID.
trap 'for p in $(jobs -p); do kill "$p" 2>/dev/null; done' EXIT
count=${KLAIS_BENCH_DATAGRAMS:-3000000}
port=${KLAIS_BENCH_PORT:-5600}
api=127.0.0.1:${KLAIS_BENCH_API_PORT:-8600}
rounds=${KLAIS_BENCH_ROUNDS:-3}
sweep=(${KLAIS_BENCH_SWEEP:-100000 150000 200000 250000 300000 350000 400000 450000 500000 600000 700000})
formats=(${KLAIS_BENCH_FORMATS:-headers envelope})
declare -A rate   # the edge's delivered/s of this round, per format
devices=10000
say() { echo "$*" | tee -a "$summary"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# The peers: rsyslog with its Kafka output (the tool an operator would pick instead of an edge) and Python for the
# asyncio receiver. Debian's rsyslog package starts no daemon here; the bench runs its own with its own config.
ensure_packages bench rsyslog rsyslog-kafka python3 || exit 1
make -s -C bench/sink || exit 1

# Sequence numbers only grow from one flood to the next, so the edge's dedupe never takes a datagram of a later
# flood for a repeat (a device's sequence advances count/devices per flood). take and flood change next_seq: call
# them in this shell, never in $( ) or < <( ).
next_seq=1
take() { taken=$next_seq; next_seq=$((next_seq + $1 / devices + 10)); }
# flood PORT RATE COUNT: the C sender (RATE 0 = full speed); its summary line in $out/flood.txt, sent count in $sent.
flood() {
  take "$3"
  ./bench/sink/udp_flood "127.0.0.1:$1" "$devices" "$2" "$3" "$taken" >"$out/flood.txt"
  sent=$(sed -n 's/^sent=\([0-9]*\).*/\1/p' "$out/flood.txt")
}

say "# klais bench $(date -u +%FT%TZ) on $(nproc) cores; kernel $(uname -r)"
say "sender: bench/sink/udp_flood 127.0.0.1:PORT $devices RATE COUNT START (sendmmsg 64, one thread, 60-byte payloads)"

# Kafka for the edge and rsyslog: a dev cluster in its own process, as a broker would be, with the control plane's
# topics (the edge reports and follows klais.control by default) and rsyslog's own topic.
"$bin/klais-devcluster" --brokers 1 --topic iot_telemetry:6 --topic klais.reports:12 --topic klais.control:1 --topic rsyslog_telemetry:6 --topic floor_telemetry:6 \
  >"$out/devcluster.out" 2>"$out/devcluster.err" &
cluster=$!
for _ in $(seq 100); do grep -q '^bootstrap=' "$out/devcluster.out" && break; sleep 0.1; done
bootstrap=$(sed -n 's/^bootstrap=//p' "$out/devcluster.out" | head -1)
[ -n "$bootstrap" ] || { echo "dev cluster did not start" >&2; cat "$out/devcluster.err"; exit 1; }

# rsyslog: imudp -> omkafka with the edge's producer settings (acks=all, idempotent, linger 5 ms, batch 1 MB, lz4),
# records spread over the topic's partitions. Its own process on its own port, stopped by PID.
rsyslog_port=$((port + 11))
# udp_drops PORT: the kernel's drop count of the UDP socket bound to PORT (/proc/net/udp, last column); udp_bound
# PORT: how many sockets are bound to it.
udp_drops() { awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" { n += $NF } END { print n + 0 }' /proc/net/udp; }
udp_bound() { awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" { n++ } END { print n + 0 }' /proc/net/udp; }
# wait_bound PORT: until a socket is bound to it (at most 10 s).
wait_bound() {
  for _ in $(seq 100); do [ "$(udp_bound "$1")" -gt 0 ] && return 0; sleep 0.1; done
  echo "nothing bound UDP port $1 within 10 s" >&2; return 1
}
mkdir -p "$out/rsyslog"
sed -e "s|@BOOTSTRAP@|$bootstrap|" -e "s|@PORT@|$rsyslog_port|" -e "s|@WORKDIR@|$PWD/$out/rsyslog|" bench/rsyslog/rsyslog.conf >"$out/rsyslog/rsyslog.conf"
rsyslogd -n -f "$out/rsyslog/rsyslog.conf" -i "$PWD/$out/rsyslog/rsyslogd.pid" >"$out/rsyslog/rsyslogd.log" 2>&1 &
rsyslog=$!
wait_bound "$rsyslog_port" || { cat "$out/rsyslog/rsyslogd.log"; exit 1; }
# topic_delivered TOPIC: records in a 6-partition topic (the end offsets of its partitions, summed).
topic_delivered() {
  kcat -Q -b "$bootstrap" $(for p in 0 1 2 3 4 5; do echo "-t $1:$p:-1"; done) 2>/dev/null | awk '{ n += $NF } END { print n + 0 }'
}
rsyslog_delivered() { topic_delivered rsyslog_telemetry; }

# The librdkafka floor: recvmmsg -> rd_kafka_produce_batch with the same producer settings and nothing else (no
# dedupe, spill or checks); what it delivers is the most any edge on librdkafka can on this machine.
floor_port=$((port + 12))
./bench/sink/udp_kafka "$floor_port" "$bootstrap" floor_telemetry 0 >"$out/floor.txt" 2>&1 &
floor=$!
wait_bound "$floor_port" || { cat "$out/floor.txt"; exit 1; }
floor_delivered() { topic_delivered floor_telemetry; }

# The edge's delivered count (the API of the edge running now).
edge_delivered() { stat .kafka.delivered; }

# settle COUNTER: waits until COUNTER (a function printing a number) stops changing for 2 s (at most 120 s) and
# prints "count first_change_s last_change_s" relative to the call (for the delivered rate).
settle() {
  local counter=$1 t0 now v last=-1 still=0 first="" lastt=0
  t0=$(date +%s.%N)
  local start; start=$($counter)
  for _ in $(seq 600); do
    v=$($counter); now=$(date +%s.%N)
    if [ "$v" -ne "$last" ]; then still=0; lastt=$now; [ -z "$first" ] && [ "$v" -gt "$start" ] && first=$now; else still=$((still + 1)); fi
    last=$v
    [ $still -ge 10 ] && break
    sleep 0.2
  done
  echo "$last $(awk -v a="$t0" -v f="${first:-$t0}" -v l="$lastt" 'BEGIN { printf "%.3f %.3f", f - a, l - a }')"
}

# start_edge LOG [FORMAT]: klais-edge on $port with the Dam far above any offered load (its PID in $edge), records in
# FORMAT (KLAIS_KAFKA_RECORD_FORMAT; default headers), warmed up with 300,000 datagrams delivered.
start_edge() {
  KLAIS_UDP_BIND=127.0.0.1:$port KLAIS_API_BIND=$api KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_KAFKA_TOPIC=iot_telemetry \
  KLAIS_DAM_MAX_RATE=100000000 KLAIS_DAM_BURST_SIZE=100000000 KLAIS_LOG_LEVEL=warn KLAIS_KAFKA_RECORD_FORMAT=${2:-headers} \
    "$bin/klais-edge" >"$1" 2>&1 &
  edge=$!
  wait_http "http://$api/health" 30 || { cat "$1"; exit 1; }
  flood "$port" 0 300000; settle edge_delivered >/dev/null
}

# Warm-up: the timed runs measure steady states, not tier-0 JIT code and first-touch memory (the C sink has
# neither): each edge started below gets 300,000 datagrams first, rsyslog gets them here.
flood "$rsyslog_port" 0 300000; settle rsyslog_delivered >/dev/null
flood "$floor_port" 0 300000; settle floor_delivered >/dev/null

# 1a. The sender at full speed. Delivered rate = records acknowledged / (last change of the count - the flood's
# start), polled every 200 ms (one curl or kcat per poll: heavier polling steals CPU from the receiver on 2 cores).
timed() { # PORT COUNTER: floods at full speed while COUNTER settles; sets t_sent, t_delivered, t_rate
  local base n last
  base=$($2)
  take "$count"
  ./bench/sink/udp_flood "127.0.0.1:$1" "$devices" 0 "$count" "$taken" >"$out/flood.txt" &
  local gen=$!
  read -r n _ last < <(settle "$2")
  wait "$gen"
  t_sent=$(sed -n 's/^sent=\([0-9]*\).*/\1/p' "$out/flood.txt")
  t_delivered=$((n - base))
  t_rate=$(awk -v n="$t_delivered" -v t="$last" 'BEGIN { printf "%.0f", n / t }')
}
sink_run() { # PROGRAM...: a receiver that prints received=... rate=...; sets s_received, s_rate
  "$@" "$port" 1000 >"$out/sink.txt" &
  local pid=$!
  wait_bound "$port" && flood "$port" 0 "$count" || { kill "$pid"; wait "$pid"; exit 1; }
  wait "$pid"
  read -r s_received s_rate < <(sed -n 's/.*received=\([0-9]*\).*rate=\([0-9.]*\).*/\1 \2/p' "$out/sink.txt")
}
for round in $(seq "$rounds"); do
  sink_run ./bench/sink/udp_sink; sink_recv=$s_received sink_rate=$s_rate
  sink_run python3 bench/sink/asyncio_sink.py; py_recv=$s_received py_rate=$s_rate
  edges=""
  for format in "${formats[@]}"; do
    start_edge "$out/edge.$round.$format.log" "$format"
    kbase=$(stat .receive.kernel_drops)
    timed "$port" edge_delivered; e_sent=$t_sent e_del=$t_delivered e_rate=$t_rate
    s=$(curl -fsS "http://$api/stats")
    p50=$(jq .latency.receive_to_enqueue_p50_us <<<"$s"); p99=$(jq .latency.receive_to_enqueue_p99_us <<<"$s")
    kdrops=$(( $(jq .receive.kernel_drops <<<"$s") - kbase ))
    rejected=$(jq '[.rejected[]] | add' <<<"$s")
    stop_pid "$edge" 20
    edges+=" | klais-edge ($format) ${e_rate}/s delivered to Kafka ($e_del of $e_sent, $kdrops kernel drops, $rejected rejected since start; receive-to-enqueue p50 ${p50} us p99 ${p99} us)"
    rate[$format]=$e_rate
  done
  rbase=$(udp_drops "$rsyslog_port")
  timed "$rsyslog_port" rsyslog_delivered; r_sent=$t_sent r_del=$t_delivered r_rate=$t_rate
  rdrops=$(( $(udp_drops "$rsyslog_port") - rbase ))
  fbase=$(udp_drops "$floor_port")
  timed "$floor_port" floor_delivered; f_sent=$t_sent f_del=$t_delivered f_rate=$t_rate
  fdrops=$(( $(udp_drops "$floor_port") - fbase ))
  ratios=" | floor/sink $(ratio "$f_rate" "$sink_rate") rsyslog/sink $(ratio "$r_rate" "$sink_rate")"
  for format in "${formats[@]}"; do
    e_rate=${rate[$format]}
    ratios+=" | $format: edge/sink $(ratio "$e_rate" "$sink_rate") edge/rsyslog $(ratio "$e_rate" "$r_rate") edge/floor $(ratio "$e_rate" "$f_rate") edge/asyncio $(awk -v e="$e_rate" -v s="$py_rate" 'BEGIN { printf "%.1f", e / s }')"
  done
  say "round $round: C sink ${sink_rate}/s ($sink_recv received) | python asyncio ${py_rate}/s ($py_recv received) | rsyslog ${r_rate}/s delivered to Kafka ($r_del of $r_sent, $rdrops kernel drops) | librdkafka floor ${f_rate}/s delivered to Kafka ($f_del of $f_sent, $fdrops kernel drops)$edges$ratios"
done

# 1b. Offered-load sweep: each rate for 5 s; delivered share = what reached Kafka (or the sink) / what was sent.
share() { awk -v d="$1" -v s="$2" 'BEGIN { printf "%.1f %%", 100 * d / s }'; }
# cpu_ticks PID: the process's CPU (user + system, all its threads) in clock ticks; per_record TICKS RECORDS: as µs
# per delivered record. With the sender paced the receiver has the CPU it asks for, so this is its cost per record,
# steadier than a full-speed rate that shares the cores with the sender (Kafka's own process not included).
cpu_ticks() { awk '{ sub(/^[^)]*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
per_record() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.2f us CPU per record", t * 1e6 / hz / n; else printf "no record" }'; }
sink_lossless=0 edge_lossless=""
for format in "${formats[@]}"; do
  start_edge "$out/edge.sweep.$format.log" "$format"
  lossless=0
  for rate in "${sweep[@]}"; do
    n=$((rate * 5))
    base=$(edge_delivered); kbase=$(stat .receive.kernel_drops); c=$(cpu_ticks "$edge")
    flood "$port" "$rate" "$n"
    read -r d _ < <(settle edge_delivered); d=$((d - base)); kd=$(( $(stat .receive.kernel_drops) - kbase )); c=$(( $(cpu_ticks "$edge") - c ))
    [ "$d" -ge "$sent" ] && [ "$rate" -gt "$lossless" ] && lossless=$rate
    say "offered ${rate}/s for 5 s: klais-edge ($format) $(share "$d" "$sent") delivered ($d of $sent, $kd kernel drops; $(per_record "$c" "$d"))"
  done
  stop_pid "$edge" 20
  edge_lossless+="klais-edge ($format) ${lossless}/s, "
done
# sweep_peer NAME PORT COUNTER PID: the sweep against a forwarder to Kafka that runs all along; sets p_lossless.
sweep_peer() {
  local rate n base drops d c
  p_lossless=0
  for rate in "${sweep[@]}"; do
    n=$((rate * 5))
    base=$($3); drops=$(udp_drops "$2"); c=$(cpu_ticks "$4")
    flood "$2" "$rate" "$n"
    read -r d _ < <(settle "$3"); d=$((d - base)); drops=$(( $(udp_drops "$2") - drops )); c=$(( $(cpu_ticks "$4") - c ))
    [ "$d" -ge "$n" ] && [ "$rate" -gt "$p_lossless" ] && p_lossless=$rate
    say "offered ${rate}/s for 5 s: $1 $(share "$d" "$n") delivered ($d of $n, $drops kernel drops; $(per_record "$c" "$d"))"
  done
}
sweep_peer rsyslog "$rsyslog_port" rsyslog_delivered "$rsyslog"; rsyslog_lossless=$p_lossless
sweep_peer "librdkafka floor" "$floor_port" floor_delivered "$floor"; floor_lossless=$p_lossless
for rate in "${sweep[@]}"; do
  n=$((rate * 5))
  ./bench/sink/udp_sink "$port" 1000 >"$out/sink.txt" &
  sink=$!
  wait_bound "$port" && flood "$port" "$rate" "$n" || { kill "$sink"; wait "$sink"; exit 1; }
  wait "$sink"
  got=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' "$out/sink.txt")
  [ "$got" -ge "$n" ] && [ "$rate" -gt "$sink_lossless" ] && sink_lossless=$rate
  say "offered ${rate}/s for 5 s: C sink $(share "$got" "$n") received ($got of $n)"
done
say "highest offered rate without loss (of ${sweep[*]}): ${edge_lossless}rsyslog ${rsyslog_lossless}/s, librdkafka floor ${floor_lossless}/s, C sink ${sink_lossless}/s"
stop_pid "$rsyslog" 10
stop_pid "$floor" 20

# 2. Latency and memory at a steady 100,000 datagrams/s for 10 s (the C sender, paced): RSS sampled every 200 ms
# during the load (the highest) and 5 s after it.
start_edge "$out/edge.steady.log"
b=$(curl -fsS "http://$api/stats")
take 1000000
./bench/sink/udp_flood "127.0.0.1:$port" "$devices" 100000 1000000 "$taken" >"$out/flood.txt" &
gen=$!
rss_peak=$(peak_rss_kb "$edge" "$gen")
wait "$gen"
settle edge_delivered >/dev/null
sleep 5
s=$(curl -fsS "http://$api/stats")
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
delta() { echo $(( $(jq "$1" <<<"$s") - $(jq "$1" <<<"$b") )); }
say "steady 100000/s for 10 s: RSS during the load at most $(mb "$rss_peak"), 5 s after it $(mb "$(rss_kb "$edge")"); receive-to-enqueue p50 $(jq .latency.receive_to_enqueue_p50_us <<<"$s") us, p99 $(jq .latency.receive_to_enqueue_p99_us <<<"$s") us, p99.9 $(jq .latency.receive_to_enqueue_p999_us <<<"$s") us (since start, warm-up included); delivered $(delta .kafka.delivered) of $(delta .receive.datagrams) received of 1000000 sent, $(delta .receive.kernel_drops) kernel drops"
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
