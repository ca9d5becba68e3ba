#!/usr/bin/env bash
# Blocking-query fan-out: N parked `GET /v1/health/service/web?index=X&wait=5m` connections,
# then one change; change-to-response latency per connection and RSS per parked query.
#
# Berth and the bare hyper long-poll peer (examples/bench_hyper_longpoll.rs) run one after the
# other on core 0 with the same client (examples/bench_blocking.rs) on core 1, and the script
# prints both and their ratios. Env: CONNS (10000), INSTANCES (1 web instance before the change).
# Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

CONNS=${CONNS:-10000}
INSTANCES=${INSTANCES:-1}

# Each side needs one descriptor per connection, plus slack.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((CONNS + 1000)) ] || { echo "ulimit -n $(ulimit -n) is too low for $CONNS connections" >&2; exit 1; }

need_tools curl taskset
cargo build --release --bin berth --example bench_blocking --example bench_hyper_longpoll

start_berth
for n in $(seq 1 "$INSTANCES"); do register_web "$n"; done
IDX=$(curl -fsS -D - -o /dev/null "$BERTH/v1/health/service/web" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-consul-index" { print $2 }')
[ -n "$IDX" ] || { echo "no X-Consul-Index from Berth" >&2; exit 1; }
n=$((INSTANCES + 1))
printf '%s' "{\"Node\":\"n$n\",\"Address\":\"10.0.0.$n\",\"Service\":{\"Service\":\"web\",\"ID\":\"web-$n\",\"Port\":8080,\"Tags\":[\"v1\"]},\"Check\":{\"Name\":\"alive\",\"ServiceID\":\"web-$n\",\"Status\":\"passing\"}}" >"$BENCH_TMP/trigger.json"
QPATH="/v1/health/service/web?index=$IDX&wait=5m"
CLIENT=(taskset -c 1 target/release/examples/bench_blocking --conns "$CONNS" --path "$QPATH")

echo "== Berth: $INSTANCES instances, index $IDX, $CONNS parked connections"
"${CLIENT[@]}" --addr "${BERTH#http://}" --pid "$BERTH_PID" --label berth \
  --trigger "PUT /v1/catalog/register" --trigger-body "$BENCH_TMP/trigger.json" | tee "$BENCH_TMP/berth.result"
# The body every watcher got; the peer answers the same bytes.
curl -fsS -o "$BENCH_TMP/body.json" "$BERTH/v1/health/service/web"
kill "$BERTH_PID"; wait "$BERTH_PID" 2>/dev/null || true

PEER_PORT=$(free_port)
taskset -c 0 target/release/examples/bench_hyper_longpoll --addr "127.0.0.1:$PEER_PORT" \
  --body "$BENCH_TMP/body.json" --index "$IDX" 2>"$BENCH_TMP/peer.log" &
PEER_PID=$!
BENCH_PIDS+=("$PEER_PID")
wait_http "http://127.0.0.1:$PEER_PORT/v1/health/service/web"
echo "== bare hyper long-poll peer: $(wc -c <"$BENCH_TMP/body.json")-byte body"
"${CLIENT[@]}" --addr "127.0.0.1:$PEER_PORT" --pid "$PEER_PID" --label hyper \
  --trigger "GET /bump" | tee "$BENCH_TMP/hyper.result"

# One row per metric: Berth, hyper, Berth/hyper.
field() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1==k { print $2 }'; }
echo
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); servers on core 0, client on core 1; busy now (other tenants): $(machine_busy)"
echo "reproduce: bench/blocking.sh   (CONNS=$CONNS INSTANCES=$INSTANCES)"
printf '%-20s %12s %12s %8s\n' metric berth hyper ratio
for k in returned p50_ms p99_ms max_ms trigger_ms bytes_per_query idle_cpu_ticks_3s; do
  b=$(field "$BENCH_TMP/berth.result" "$k"); h=$(field "$BENCH_TMP/hyper.result" "$k")
  ratio=$(awk -v b="$b" -v h="$h" 'BEGIN { if (h + 0 > 0) printf "%.2f", b / h; else print "-" }')
  printf '%-20s %12s %12s %8s\n' "$k" "$b" "$h" "$ratio"
done
b99=$(field "$BENCH_TMP/berth.result" p99_ms); bq=$(field "$BENCH_TMP/berth.result" bytes_per_query)
awk -v p="$b99" -v q="$bq" 'BEGIN {
  printf "goal p99 < 100 ms: %s (%.1f ms)\n", (p < 100 ? "met" : "MISSED"), p
  printf "goal < 2 KiB per parked query: %s (%.0f B)\n", (q < 2048 ? "met" : "MISSED"), q }'
