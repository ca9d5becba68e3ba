#!/usr/bin/env bash
# Read throughput of Berth vs bare hyper serving the same bytes, on the same pinned core.
#
# Berth runs on core 0 with 100 `web` instances and one ~100-byte KV value; their exact
# responses are saved and served by examples/bench_hyper_peer.rs (also on core 0, never under
# load at the same time). wrk runs on core 1. Prints rps, p50/p99 and the Berth/hyper ratio.
# Env: DURATION (10s), CONNS (64), ROUNDS (3). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}

need_tools wrk curl taskset
cargo build --release --bin berth --example bench_hyper_peer

start_berth
for n in $(seq 1 100); do register_web "$n"; done
head -c 100 /dev/zero | tr '\0' 'v' >"$BENCH_TMP/value"
curl -fsS -X PUT "$BERTH/v1/kv/bench/key" --data-binary @"$BENCH_TMP/value" -o /dev/null

# Save each endpoint's exact body and X-Consul-* headers for the peer.
ENDPOINTS=("/v1/health/service/web?passing" "/v1/kv/bench/key")
PEER_ARGS=()
for i in "${!ENDPOINTS[@]}"; do
  ep=${ENDPOINTS[$i]}
  curl -fsS -D "$BENCH_TMP/h$i" -o "$BENCH_TMP/b$i" "$BERTH$ep"
  grep -i '^x-consul' "$BENCH_TMP/h$i" | tr -d '\r' >"$BENCH_TMP/b$i.headers"
  echo "saved $ep: $(wc -c <"$BENCH_TMP/b$i") body bytes, $(wc -l <"$BENCH_TMP/b$i.headers") X-Consul headers"
  PEER_ARGS+=(--route "$ep=$BENCH_TMP/b$i")
done
PEER_PORT=$(free_port)
PEER="http://127.0.0.1:$PEER_PORT"
taskset -c 0 target/release/examples/bench_hyper_peer --addr "127.0.0.1:$PEER_PORT" "${PEER_ARGS[@]}" \
  2>"$BENCH_TMP/peer.log" &
BENCH_PIDS+=($!)
wait_http "$PEER/v1/kv/bench/key"
for i in "${!ENDPOINTS[@]}"; do
  curl -fsS "$PEER${ENDPOINTS[$i]}" | cmp -s - "$BENCH_TMP/b$i" || { echo "peer body differs for ${ENDPOINTS[$i]}" >&2; exit 1; }
done

# Runs wrk on core 1; prints "rps p50 p99 errors" (latencies in ms).
run_wrk() {
  local out
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$1")
  echo "$out" >>"$BENCH_TMP/wrk.log"
  echo "$out" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec:/ { rps=$2 }
    $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
    /Non-2xx|Socket errors/ { err=err $0 ";" }
    END { printf "%d %.3f %.3f %s\n", rps, p50, p99, (err=="" ? "none" : err) }'
}

echo
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); server on core 0, wrk on core 1; busy before the runs (other tenants): $(machine_busy)"
echo "reproduce: bench/http.sh   (wrk: taskset -c 1 wrk -t1 -c$CONNS -d$DURATION --latency URL)"
printf '%-34s %5s %10s %8s %8s %10s %8s %8s %7s\n' endpoint round berth_rps p50_ms p99_ms hyper_rps p50_ms p99_ms ratio
for i in "${!ENDPOINTS[@]}"; do
  ep=${ENDPOINTS[$i]}
  ratios=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r b_rps b50 b99 berr < <(run_wrk "$BERTH$ep")
    read -r h_rps h50 h99 herr < <(run_wrk "$PEER$ep")
    ratio=$(awk -v b="$b_rps" -v h="$h_rps" 'BEGIN { printf "%.2f", (h > 0 ? b / h : 0) }')
    ratios+=("$ratio")
    printf '%-34s %5s %10s %8s %8s %10s %8s %8s %7s\n' "$ep" "$r" "$b_rps" "$b50" "$b99" "$h_rps" "$h50" "$h99" "$ratio"
    [ "$berr" = none ] || echo "  berth errors: $berr"
    [ "$herr" = none ] || echo "  hyper errors: $herr"
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR]=$1 } END { print a[int((NR + 1) / 2)] }')
  verdict=$(awk -v m="$median" 'BEGIN { print (m >= 0.5 ? "meets" : "MISSES") }')
  echo "  => $ep: median Berth/hyper = $median ($verdict the 0.5x goal)"
done
