#!/usr/bin/env bash
# make bench-xdp: the XDP filter against a garbage flood (design section 7), each figure side by side with its
# baseline in the same run. Two namespaces joined by a veth (nothing leaves them); klais-xdp flood sends from one
# side a cycle of 10% valid datagrams and 90% garbage (bad magic, too short, blocked devices: 30% each) to
# bench/sink/udp_sink (C, recvmmsg, counts) on the other side, three ways:
#   none     no XDP: every datagram reaches the socket layer and the sink's checks would have to reject it
#   generic  the filter in generic mode (the figure the design asks for on veth)
#   native   the filter in native (driver) mode, which veth also supports
# Per case: datagrams the sink received, its CPU time (utime+stime from /proc/PID/stat), and with XDP the share of
# garbage dropped in the kernel (statistics map), the kernel's drop rate in packets/s over the flood, and the
# program's own cost per packet (kernel.bpf_stats_enabled run_time_ns / run_cnt).
# Results: artifacts/bench/xdp-summary.txt. Needs root. Env: KLAIS_BENCH_XDP_DATAGRAMS (2000000),
# KLAIS_BENCH_XDP_ROUNDS (2), KLAIS_BENCH_XDP_PORT (5700).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${KLAIS_XDP_TOOL:-out/bin/klais-xdp}
sink=bench/sink/udp_sink
count=${KLAIS_BENCH_XDP_DATAGRAMS:-2000000}
rounds=${KLAIS_BENCH_XDP_ROUNDS:-2}
port=${KLAIS_BENCH_XDP_PORT:-5700}
blocked=8
out=artifacts/bench; mkdir -p "$out"
summary=$out/xdp-summary.txt; : >"$summary"
say() { echo "$*" | tee -a "$summary"; }

[ "$(id -u)" -eq 0 ] || { echo "bench-xdp: needs root (namespaces, XDP)" >&2; exit 1; }
[ -x "$tool" ] || { echo "bench-xdp: $tool missing: run make publish" >&2; exit 1; }
[ -x "$sink" ] || make -s -C bench/sink

tag=$(printf '%04x' $((RANDOM % 65536)))
ns_s=klxb-$$-$tag-s ns_r=klxb-$$-$tag-r dev_s=kxb${tag}s dev_r=kxb${tag}r
netns=/run/netns/$ns_r
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
  sysctl -q -w kernel.bpf_stats_enabled="$stats_before" || true
  ip netns del "$ns_s" 2>/dev/null || true
  ip netns del "$ns_r" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns_s"; ip netns add "$ns_r"
ip link add "$dev_s" netns "$ns_s" type veth peer name "$dev_r" netns "$ns_r"
for side in "$ns_s:$dev_s:10.79.0.1" "$ns_r:$dev_r:10.79.0.2"; do
  IFS=: read -r ns dev addr <<<"$side"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev "$dev"
  ip -n "$ns" link set "$dev" up
done
# Resolve ARP before any measured flood (100 datagrams to a port nobody listens on).
ip netns exec "$ns_s" "$tool" flood --target "10.79.0.2:$((port + 1))" --count 100 >/dev/null; sleep 0.2
sysctl -q -w kernel.bpf_stats_enabled=1
hz=$(getconf CLK_TCK)
# Sender on CPU 0, receiver on CPU 1: the veth's receive softirq (and so the filter) runs on the sender's CPU, so
# the receiver's utime+stime is its own work and not the softirq time the kernel would charge to whoever runs there.
pin_send=() pin_recv=()
if [ "$(nproc)" -ge 2 ]; then pin_send=(taskset -c 0) pin_recv=(taskset -c 1); fi

say "# klais bench-xdp $(date -u +%FT%TZ) on $(nproc) cores; kernel $(uname -r)"
say "flood: ip netns exec $ns_s ${pin_send[*]} $tool flood --target 10.79.0.2:$port --count $count --valid-percent 10 --blocked-devices $blocked"
say "receiver: ip netns exec $ns_r ${pin_recv[*]} $sink $port 1000"

# cpu_ms PID: utime+stime of a live process in ms (fields 14 and 15 of /proc/PID/stat).
cpu_ms() { awk -v hz="$hz" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat" 2>/dev/null; }

run_case() { # round mode
  local round=$1 mode=$2 prog_id="" cpu=0 c
  if [ "$mode" != none ]; then
    prog_id=$("$tool" attach --iface "$dev_r" --netns "$netns" --mode "$mode" --port "$port" | jq -r .program_id)
    for i in $(seq 0 $((blocked - 1))); do
      "$tool" block --iface "$dev_r" --netns "$netns" --device "flood-blk-$(printf %04d "$i")" --reason 1 >/dev/null
    done
  fi
  ip netns exec "$ns_r" "${pin_recv[@]}" "$sink" "$port" 1000 >"$out/xdp-sink.$mode.$round.txt" &
  local sink_pid=$!
  sleep 0.3
  ip netns exec "$ns_s" "${pin_send[@]}" "$tool" flood --target "10.79.0.2:$port" --count "$count" --valid-percent 10 \
    --blocked-devices "$blocked" >"$out/xdp-flood.$mode.$round.json"
  # The sink exits 1 s after its last datagram; its CPU time is read until then.
  while c=$(cpu_ms "$sink_pid") && [ -n "$c" ]; do cpu=$c; sleep 0.05; done
  wait "$sink_pid" || true
  local flood received seconds valid garbage
  flood=$(cat "$out/xdp-flood.$mode.$round.json")
  received=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' "$out/xdp-sink.$mode.$round.txt")
  seconds=$(jq .seconds <<<"$flood"); valid=$(jq .valid <<<"$flood"); garbage=$(( $(jq .sent <<<"$flood") - valid ))
  if [ "$mode" = none ]; then
    say "round $round, no XDP: sent $(jq .sent <<<"$flood") in ${seconds}s; sink received $received (valid $valid); sink CPU ${cpu} ms"
    return
  fi
  local s dropped ns_per_pkt
  s=$("$tool" stats --iface "$dev_r" --netns "$netns")
  echo "$s" >"$out/xdp-stats.$mode.$round.json"
  dropped=$(jq '.dropped_size.packets + .dropped_magic.packets + .dropped_blocked.packets' <<<"$s")
  ns_per_pkt=$(bpftool prog show id "$prog_id" --json | jq '(.run_time_ns // 0) / ((.run_cnt // 0) + 0.000001) | floor')
  "$tool" detach --iface "$dev_r" --netns "$netns" >/dev/null
  say "$(awk -v r="$round" -v m="$mode" -v sent="$(jq .sent <<<"$flood")" -v sec="$seconds" -v g="$garbage" -v d="$dropped" \
    -v v="$valid" -v rec="$received" -v cpu="$cpu" -v p="$(jq .passed.packets <<<"$s")" -v ns="$ns_per_pkt" 'BEGIN {
      printf "round %s, XDP %s: sent %d in %.2fs; garbage dropped in kernel %d of %d (%.3f%%) at %.0f packets/s; passed %d; sink received %d (valid %d); sink CPU %d ms; program %d ns/packet",
        r, m, sent, sec, d, g, 100 * d / g, d / sec, p, rec, v, cpu, ns }')"
  awk -v d="$dropped" -v g="$garbage" 'BEGIN { exit !(d >= 0.99 * g) }' || { say "FAIL: less than 99% of the garbage dropped in the kernel"; exit 1; }
  [ "$received" -le "$valid" ] || { say "FAIL: user space received more than the valid share"; exit 1; }
}

for round in $(seq "$rounds"); do
  for mode in none generic native; do
    run_case "$round" "$mode"
  done
done
