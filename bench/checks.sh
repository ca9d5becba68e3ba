#!/usr/bin/env bash
# 1,000 HTTP checks at a 1 s interval against a local server: the agent's CPU and its Raft
# writes per second while every check passes, next to a bare prober doing the same requests.
#
# Berth (one-node server) runs on core 0 with CHECKS services, each with one HTTP check on the
# same local target (examples/bench_hyper_peer on core 1). After every check has passed once,
# Berth's CPU time and Raft last_log_index are sampled over WINDOW seconds. Then Berth stops
# and examples/bench_check_peer (same requests, same core, no check machinery) is measured
# the same way. Prints CPU % of one core for both, the ratio, and Raft writes/s.
# Env: CHECKS (1000), WINDOW (30), ROUNDS (2). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

CHECKS=${CHECKS:-1000}
WINDOW=${WINDOW:-30}
ROUNDS=${ROUNDS:-2}

need_tools curl taskset python3
cargo build --release --bin berth --example bench_hyper_peer --example bench_check_peer

# The target: bare hyper on core 1 answering "/" with a short body.
printf 'ok' >"$BENCH_TMP/ok"
TARGET_PORT=$(free_port)
TARGET="http://127.0.0.1:$TARGET_PORT/"
taskset -c 1 target/release/examples/bench_hyper_peer --addr "127.0.0.1:$TARGET_PORT" \
  --route "/=$BENCH_TMP/ok" 2>"$BENCH_TMP/target.log" &
BENCH_PIDS+=($!)
wait_http "$TARGET"

# CPU seconds (user + system) used so far by PID.
cpu_secs() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}
last_index() {
  curl -fsS "$BERTH/v1/agent/self" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Stats"]["raft"]["last_log_index"])'
}
passing_count() {
  curl -fsS "$BERTH/v1/health/state/passing" | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin) if c["CheckID"].startswith("service:")))'
}

echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); Berth and prober on core 0, target on core 1; busy before the runs (other tenants): $(machine_busy)"
echo "reproduce: bench/checks.sh   (CHECKS=$CHECKS WINDOW=$WINDOW ROUNDS=$ROUNDS)"
printf '%5s %10s %10s %10s %7s %14s\n' round berth_cpu% peer_cpu% ratio goal raft_writes/s
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$BENCH_TMP/data"
  start_berth
  python3 - "$BERTH" "$TARGET" "$CHECKS" <<'PY'
import json, sys, urllib.request
base, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    body = json.dumps({"Name": "svc-%d" % i, "Port": 80,
                       "Check": {"HTTP": target, "Interval": "1s"}}).encode()
    req = urllib.request.Request(base + "/v1/agent/service/register", data=body, method="PUT")
    urllib.request.urlopen(req).read()
PY
  for i in $(seq 1 120); do
    [ "$(passing_count)" -ge "$CHECKS" ] && break
    sleep 0.5
  done
  [ "$(passing_count)" -ge "$CHECKS" ] || { echo "not every check passed" >&2; exit 1; }
  sleep 2
  i0=$(last_index); c0=$(cpu_secs "$BERTH_PID")
  sleep "$WINDOW"
  i1=$(last_index); c1=$(cpu_secs "$BERTH_PID")
  kill "$BERTH_PID"; wait "$BERTH_PID" 2>/dev/null || true

  taskset -c 0 target/release/examples/bench_check_peer --url "$TARGET" --checks "$CHECKS" \
    --interval-ms 1000 2>"$BENCH_TMP/peer.log" &
  PEER_PID=$!
  BENCH_PIDS+=("$PEER_PID")
  sleep 3
  p0=$(cpu_secs "$PEER_PID"); sleep "$WINDOW"; p1=$(cpu_secs "$PEER_PID")
  kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true

  awk -v c0="$c0" -v c1="$c1" -v p0="$p0" -v p1="$p1" -v i0="$i0" -v i1="$i1" -v w="$WINDOW" -v r="$r" 'BEGIN {
    b = 100 * (c1 - c0) / w; p = 100 * (p1 - p0) / w
    printf "%5d %10.2f %10.2f %10.2f %7s %14.2f\n", r, b, p, (p > 0 ? b / p : 0), (b < 5 ? "meets" : "MISSES"), (i1 - i0) / w }'
done
echo "goals: Berth CPU < 5% of one core; 0 Raft writes/s once every check has passed"
