#!/usr/bin/env bash
# make demo: the fleet on one machine for about 40 s. One redis-server of our own (membership, grain state and
# reminders of the Orleans silos), one shared Kafka dev cluster (klais-devcluster, the control plane's topics
# pre-created), two Orleans silos (klais-silo), two edges (klais-edge, reporting and following klais.control)
# and klais-loadgen playing a scripted scenario: steady traffic, a reconnect storm (many new devices at once), then
# one device flooding both edges. Prints live rates, then what the swarm decided: the consensus block from
# GET /api/anomalies and the edges' /blocklist, and the records read back from Kafka. Ctrl-C ends it early; every
# process started here is stopped by its PID.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bin=out/bin
logs=out/demo; rm -rf "$logs"; mkdir -p "$logs"
pids=()
cleanup() {
  local p
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do p=${pids[i]}; stop_pid "$p" 15 >/dev/null 2>&1; done
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, stopping"; exit 0' INT TERM

start_redis "$logs/redis" || exit 1
pids+=("$redis_pid")
echo "demo: Redis 127.0.0.1:$redis_port (redis-server, PID $redis_pid, data in $logs/redis)"

topic=iot_telemetry
"$bin/klais-devcluster" --topic "$topic:6" --topic klais.reports:12 --topic klais.control:1 \
  --bootstrap-file "$logs/bootstrap" >"$logs/devcluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$logs/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$logs/bootstrap") || { cat "$logs/devcluster.log"; exit 1; }
echo "demo: Kafka dev cluster $bootstrap (topics $topic, klais.reports, klais.control)"

for s in 1 2; do
  KLAIS_REDIS=127.0.0.1:$redis_port KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_SILO_ID=silo-$s KLAIS_SILO_API_BIND=127.0.0.1:809$s \
    KLAIS_SILO_PORT=$(free_port) KLAIS_SILO_GATEWAY_PORT=$(free_port) KLAIS_CLUSTER_ID=demo KLAIS_LOG_LEVEL=warning \
    "$bin/klais-silo" >"$logs/silo-$s.log" 2>&1 &
  pids+=($!)
done
for e in 1 2; do
  KLAIS_KAFKA_BOOTSTRAP=$bootstrap KLAIS_CONTROL=on KLAIS_NODE_ID=edge-$e KLAIS_UDP_BIND=127.0.0.1:500$e KLAIS_API_BIND=127.0.0.1:808$e \
    KLAIS_SUSPECT_RATE=1500 KLAIS_DAM_MAX_RATE=10000 KLAIS_LOG_LEVEL=warn "$bin/klais-edge" >"$logs/edge-$e.log" 2>&1 &
  pids+=($!)
done
for u in http://127.0.0.1:8091/health http://127.0.0.1:8092/health http://127.0.0.1:8081/health http://127.0.0.1:8082/health; do
  wait_http "$u" 60 || { tail -n 20 "$logs"/*.log; exit 1; }
done
echo "demo: silos  http://127.0.0.1:8091 and http://127.0.0.1:8092: grain API (/api/silos, /api/nodes, /api/anomalies, /api/swarm, /openapi.json),"
echo "             fleet dashboard http://127.0.0.1:8091/, Orleans dashboard http://127.0.0.1:8091/dashboard/, health /health;"
echo "             in a terminal: out/bin/klais top --silo http://127.0.0.1:8091"
echo "demo: edges  udp 127.0.0.1:5001 -> http://127.0.0.1:8081, udp 127.0.0.1:5002 -> http://127.0.0.1:8082 (/health, /stats, /blocklist)"

gen() { "$bin/klais-loadgen" "$@" >>"$logs/loadgen.json" 2>>"$logs/loadgen.log" & pids+=($!); }
phase() { printf '\ndemo: %s\n' "$1"; }
show() { # seconds: one line per second with both edges' rates
  local n=$1 t r1 r2
  for ((t = 0; t < n; t++)); do
    sleep 1
    r1=$(curl -fsS http://127.0.0.1:8081/stats) || return; r2=$(curl -fsS http://127.0.0.1:8082/stats) || return
    printf '  edge-1 recv %8d rate %6.0f blocked %6d | edge-2 recv %8d rate %6.0f blocked %6d | votes %d/%d\n' \
      "$(jq .dam.received <<<"$r1")" "$(jq .control.current_rate <<<"$r1")" "$(jq .rejected.blocked <<<"$r1")" \
      "$(jq .dam.received <<<"$r2")" "$(jq .control.current_rate <<<"$r2")" "$(jq .rejected.blocked <<<"$r2")" \
      "$(jq .control.votes <<<"$r1")" "$(jq .control.votes <<<"$r2")"
  done
}

phase "1/4 steady: 1000 devices, 2000 datagrams/s to each edge (10 s)"
gen --target 127.0.0.1:5001 --devices 1000 --rate 2000 --duration 10
gen --target 127.0.0.1:5002 --devices 1000 --rate 2000 --duration 10
show 10
phase "2/4 reconnect storm: 20000 devices at once, 6000 datagrams/s to each edge (5 s)"
gen --target 127.0.0.1:5001 --devices 20000 --rate 6000 --duration 5 --start-seq 100000
gen --target 127.0.0.1:5002 --devices 20000 --rate 6000 --duration 5 --start-seq 100000
show 5
phase "3/4 one device (dev-000001) floods both edges at 4000 datagrams/s, above KLAIS_SUSPECT_RATE=1500 (8 s)"
gen --target 127.0.0.1:5001 --devices 1 --rate 4000 --duration 8 --start-seq 500000
gen --target 127.0.0.1:5002 --devices 1 --rate 4000 --duration 8 --start-seq 500000
show 9
phase "4/4 a cloned id (dev-000777) from 12 addresses at each edge, 300 datagrams/s: no edge suspects it alone, the silos' fleet view sums 24 addresses (6 s)"
gen --target 127.0.0.1:5001 --devices 1 --first-device 777 --rate 300 --duration 6 --start-seq 700000 --sources 12 --batch 1
gen --target 127.0.0.1:5002 --devices 1 --first-device 777 --rate 300 --duration 6 --start-seq 800000 --sources 12 --batch 1
show 7

phase "what the swarm decided"
echo "GET http://127.0.0.1:8091/api/anomalies:"
curl -fsS http://127.0.0.1:8091/api/anomalies | jq -c '.' | cut -c1-600
for e in 1 2; do
  echo "GET http://127.0.0.1:808$e/blocklist: $(curl -fsS http://127.0.0.1:808$e/blocklist | jq -c '[.. | objects | select(has("device_id")) | {device_id, reason, source}]' | cut -c1-300)"
done
echo "GET http://127.0.0.1:8091/api/nodes: $(curl -fsS http://127.0.0.1:8091/api/nodes | jq -c '.' | cut -c1-400)"
echo "GET http://127.0.0.1:8092/api/silos: $(curl -fsS http://127.0.0.1:8092/api/silos | jq -c '[.[] | {silo_id, status, api_endpoint, activations}]')"
echo "GET http://127.0.0.1:8092/api/devices/dev-000001 (any silo answers for any device): $(curl -fsS http://127.0.0.1:8092/api/devices/dev-000001 | jq -c '{device_id, owner_silo, blocked, reason: .block.reason}')"
in_kafka=$(count_topic "$bootstrap" "$topic")
delivered=$(( $(curl -fsS http://127.0.0.1:8081/stats | jq .kafka.delivered) + $(curl -fsS http://127.0.0.1:8082/stats | jq .kafka.delivered) ))
echo "demo: records read back from Kafka (kcat, $topic from the beginning): $in_kafka; edges' acknowledged: $delivered"
cleanup; pids=()
trap - EXIT
echo "demo: done"
