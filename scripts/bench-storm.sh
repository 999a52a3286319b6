#!/usr/bin/env bash
# The reconnect-storm benchmark (run by `make bench`; KLAIS_BENCH_STORM=0 skips it there): N devices that were offline
# reconnect at once and flush their buffered history while live traffic goes on, for each N and with the swarm's burst
# advice on and off (KLAIS_BURST_ADVICE). Each run gets a fleet of its own: redis-server, the Kafka dev cluster, one
# klais-silo and one klais-edge (control plane on), then klais-loadgen: live traffic from the start, the storm at
# KLAIS_BENCH_STORM_AT seconds (after the swarm's model has its minute of history). Every process is stopped by PID.
#
# Per run: recovery = from the storm's first datagram to the first instant t after its last one was sent such that
# the edge's Dam queue is empty and at most a quarter second of live traffic is unacknowledged at t, and the records
# Kafka acknowledged over [t, t + 1 s] are within ±10 % of the live rate (docs/BENCHMARKS.md, "Reconnect storm").
# Loss = (datagrams sent - records Kafka acknowledged) / datagrams sent from the storm's start on (nothing is lost
# before it; the script checks), with the edge's kernel and Dam drops beside it and the topic's count read back.
# Results: artifacts/bench/storm-summary.txt; raw polls in artifacts/bench/storm/<N>-<advice>/.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bin=out/bin
out=artifacts/bench; mkdir -p "$out/storm"
summary=$out/storm-summary.txt; : >"$summary"
sizes=${KLAIS_BENCH_STORM_SIZES:-1000 10000 100000}
advices=${KLAIS_BENCH_STORM_ADVICE:-on off}
rounds=${KLAIS_BENCH_STORM_ROUNDS:-1}
history=${KLAIS_BENCH_STORM_HISTORY:-10}
at=${KLAIS_BENCH_STORM_AT:-75}
tail_s=${KLAIS_BENCH_STORM_TAIL:-45}
live_devices=${KLAIS_BENCH_STORM_LIVE_DEVICES:-1000}
live_rate=${KLAIS_BENCH_STORM_LIVE_RATE:-5000}
storm_rate=${KLAIS_BENCH_STORM_RATE:-0}
dam_rate=${KLAIS_BENCH_STORM_DAM_RATE:-100000}
say() { echo "$*" | tee -a "$summary"; }
pids=()
cleanup() { local i; for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" 15 >/dev/null 2>&1; done; pids=(); }
trap cleanup EXIT

say "# klais reconnect-storm bench $(date -u +%FT%TZ) on $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "live: $live_devices devices, $live_rate datagrams/s; storm at ${at} s: N devices x $history buffered records each (storm rate ${storm_rate}, 0 = as fast as the sender goes); edge Dam rate $dam_rate/s (queue and burst: defaults); one silo, one edge"

# run_storm N ADVICE ROUND: one run on a fresh fleet; prints its line.
run_storm() {
  local n=$1 advice=$2 round=$3 dir=$out/storm/$1-$2-$round silo_api
  rm -rf "$dir"; mkdir -p "$dir"
  # Ports of its own: nothing but this run's loadgen may reach this edge.
  local port api; port=$(free_udp_port) && api=127.0.0.1:$(free_port) || return 1
  local load0; load0=$(cut -d' ' -f1-3 /proc/loadavg)
  start_redis "$dir/redis" || return 1
  pids+=("$redis_pid")
  "$bin/klais-devcluster" --topic iot_telemetry:6 --topic klais.reports:12 --topic klais.control:1 \
    --bootstrap-file "$dir/bootstrap" >"$dir/devcluster.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
  local bootstrap; bootstrap=$(cat "$dir/bootstrap") || { cat "$dir/devcluster.log"; return 1; }
  silo_api=127.0.0.1:$(free_port)
  KLAIS_REDIS=127.0.0.1:$redis_port KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_SILO_ID=silo-1 KLAIS_SILO_API_BIND=$silo_api \
    KLAIS_SILO_PORT=$(free_port) KLAIS_SILO_GATEWAY_PORT=$(free_port) KLAIS_CLUSTER_ID=storm KLAIS_LOG_LEVEL=warning \
    KLAIS_BURST_ADVICE=$advice "$bin/klais-silo" >"$dir/silo.log" 2>&1 &
  pids+=($!)
  KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_NODE_ID=edge-1 KLAIS_UDP_BIND=127.0.0.1:$port KLAIS_API_BIND=$api \
    KLAIS_DAM_MAX_RATE=$dam_rate KLAIS_LOG_LEVEL=warn "$bin/klais-edge" >"$dir/edge.log" 2>&1 &
  pids+=($!)
  wait_http "http://$silo_api/health" 60 && wait_http "http://$api/health" 60 || { tail -n 20 "$dir"/*.log; return 1; }

  "$bin/klais-loadgen" --target "127.0.0.1:$port" --devices "$live_devices" --rate "$live_rate" --duration $((at + tail_s)) \
    --storm-devices "$n" --storm-at "$at" --storm-history "$history" --storm-rate "$storm_rate" >"$dir/loadgen.json" 2>"$dir/loadgen.err" &
  local gen=$! started; started=$(date +%s%3N)
  pids+=("$gen")
  # The swarm once a second throughout; the edge every 200 ms from 3 s before the storm (one curl and one jq a poll).
  local next_swarm=0 now
  while kill -0 "$gen" 2>/dev/null; do
    now=$(date +%s%3N)
    if [ "$now" -ge "$next_swarm" ]; then
      curl -fsS "http://$silo_api/api/swarm" 2>/dev/null | jq -r --arg t "$now" '[$t, .burst_probability, .burst_level, .model.kind, .packets_per_second] | @tsv' >>"$dir/swarm.tsv"
      next_swarm=$((now + 1000))
    fi
    if [ "$now" -ge $((started + (at - 3) * 1000)) ]; then
      curl -fsS "http://$api/stats" 2>/dev/null | jq -r --arg t "$now" \
        '[$t, .kafka.delivered, .receive.datagrams, .receive.kernel_drops, .dam.dropped, .dam.queue_depth, .kafka.in_flight, ([.rejected[]] | add)] | @tsv' >>"$dir/edge.tsv"
      sleep 0.2
    else
      sleep 0.5
    fi
  done
  wait "$gen"
  # Drain: until the Dam's queue is empty and Kafka acknowledged everything in flight (at most 60 s).
  local s
  for _ in $(seq 300); do
    s=$(curl -fsS "http://$api/stats")
    [ "$(jq '.dam.queue_depth + .kafka.in_flight' <<<"$s")" -eq 0 ] && break
    sleep 0.2
  done
  local load1; load1=$(cut -d' ' -f1-3 /proc/loadavg)
  local in_kafka; in_kafka=$(count_topic "$bootstrap" iot_telemetry)
  cleanup

  local g; g=$(cat "$dir/loadgen.json")
  local sent live_before storm_start send_s send_rate live_send_rate
  sent=$(jq .sent <<<"$g"); live_before=$(jq .storm.live_before <<<"$g"); storm_start=$(jq .storm.start_unix_ms <<<"$g")
  send_s=$(jq .storm.send_s <<<"$g"); send_rate=$(jq .storm.send_rate <<<"$g"); live_send_rate=$(jq .storm.live_rate_during_send <<<"$g")
  local delivered kdrops ddrops rejected received
  delivered=$(jq .kafka.delivered <<<"$s"); kdrops=$(jq .receive.kernel_drops <<<"$s"); ddrops=$(jq .dam.dropped <<<"$s")
  rejected=$(jq '[.rejected[]] | add' <<<"$s"); received=$(jq .receive.datagrams <<<"$s")
  if [ $((received + kdrops)) -gt "$sent" ]; then
    say "N=$n advice=$advice round $round: INVALID, the edge saw $((received + kdrops)) datagrams (received + kernel drops) but the loadgen sent $sent: another sender reached port $port"
    return 0
  fi
  # Drops before the storm (must be 0 for the loss's denominator to start at the storm): the last poll before it.
  local before_drops
  before_drops=$(awk -v s="$storm_start" '$1 < s { d = $4 + $8 } END { print d + 0 }' "$dir/edge.tsv")
  local recovery
  recovery=$(awk -v s="$storm_start" -v e="$(awk -v s="$storm_start" -v d="$send_s" 'BEGIN { printf "%.0f", s + d * 1000 }')" -v r="$live_rate" '
    { t[NR] = $1; del[NR] = $2; q[NR] = $6; fl[NR] = $7; n = NR }
    END {
      for (i = 1; i <= n; i++) {
        if (t[i] < e || q[i] > 0 || fl[i] > r / 4) continue
        for (j = i + 1; j <= n && t[j] - t[i] < 1000; j++) ;
        if (j > n) break
        rate = (del[j] - del[i]) * 1000 / (t[j] - t[i])
        if (rate >= 0.9 * r && rate <= 1.1 * r) { printf "%.1f", (t[i] - s) / 1000; exit }
      }
      printf "not within the run"
    }' "$dir/edge.tsv")
  local loss; loss=$(awk -v a="$sent" -v d="$delivered" -v b="$live_before" 'BEGIN { printf "%.2f", (a - d) * 100 / (a - b) }')
  local peak; peak=$(awk -v s="$storm_start" '$1 >= s - 30000 && $2 != "" {
      if (!seen || $2 > p) { p = $2; pt = ($1 - s) / 1000; seen = 1 }
      if ($3 > l) { l = $3; lt = ($1 - s) / 1000 }
    } END { printf "probability %.2f at %+.0f s, level %d", p, pt, l; if (l > 0) printf " from %+.0f s", lt }' "$dir/swarm.tsv")
  local kind; kind=$(awk -v s="$storm_start" '$1 <= s { k = $4; l = $3; p = $2 } END { printf "%s, level %d, probability %.2f", k, l, p }' "$dir/swarm.tsv")
  say "N=$n advice=$advice round $round: recovery ${recovery} s, loss ${loss} % ($((sent - delivered)) of $((sent - live_before)) sent from the storm on: kernel drops $kdrops, Dam drops $ddrops, all rejections $rejected; $sent sent, $delivered acknowledged, $in_kafka read back from Kafka; drops before the storm $before_drops) | storm sent in ${send_s} s (${send_rate}/s), live ${live_send_rate}/s meanwhile | swarm at the storm's start: $kind; highest burst $peak (from 30 s before the storm on) | load average $load0 -> $load1"
}

for round in $(seq "$rounds"); do
  for n in $sizes; do
    for advice in $advices; do
      run_storm "$n" "$advice" "$round" || { cleanup; say "N=$n advice=$advice round $round: the run failed (logs in $out/storm/$n-$advice-$round)"; }
    done
  done
done
