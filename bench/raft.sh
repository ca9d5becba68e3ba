#!/usr/bin/env bash
# KV writes and leader failover: a Berth server cluster vs an etcd 3.4 cluster, same machine,
# same run, same client (examples/bench_kv_write.rs).
#
# Both clusters run at once on 127.0.0.1 with their data dirs on disk (fsync on, the defaults
# of both), every server pinned to SERVER_CPUS and the load generator to CLIENT_CPUS; only one
# of them is under load at a time (levels alternate Berth, etcd). For each concurrency level,
# SECS seconds (after a 1 s warm-up) of 1 KiB writes to the leader, each worker on its own
# keep-alive connection, 1,000 keys per worker:
#   Berth: PUT /v1/kv/bench/<w>/<n>            (its HTTP API; answer `true`)
#   etcd:  POST /v3/kv/put {"key","value"}     (its v3 JSON gateway, etcd's HTTP path)
# Then, with 3+ servers, KILLS leader failovers each: kill -9 of the leader, writes through
# both survivors every 10 ms (1 s per attempt) until one is acknowledged; the time from the
# kill to that answer. The killed server is restarted and the cluster must agree on a leader
# again before the next kill.
#
# Env: SERVERS (3; both clusters), BERTH_SERVERS / ETCD_MEMBERS (default SERVERS; 1 runs Berth
# as `-server -bootstrap`), CONCURRENCY ("1 16 64"), SECS (10), VALUE_SIZE (1024), KILLS (10),
# RAFT_MULTIPLIER (1: Berth's timers, Consul's fastest), SERVER_CPUS (0), CLIENT_CPUS (1),
# ONLY (berth or etcd: run one side). Loopback only; every process started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

SERVERS=${SERVERS:-3}
BERTH_SERVERS=${BERTH_SERVERS:-$SERVERS}
ETCD_MEMBERS=${ETCD_MEMBERS:-$SERVERS}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
SECS=${SECS:-10}
VALUE_SIZE=${VALUE_SIZE:-1024}
KILLS=${KILLS:-10}
RAFT_MULTIPLIER=${RAFT_MULTIPLIER:-1}
SERVER_CPUS=${SERVER_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
ONLY=${ONLY:-}
SIDES=(berth etcd)
[ -n "$ONLY" ] && SIDES=("$ONLY")

need_tools curl taskset python3
if [[ " ${SIDES[*]} " == *" etcd "* ]] && ! command -v etcd >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client
fi
cargo build --release --bin berth --example bench_kv_write
HELPER=(taskset -c "$CLIENT_CPUS" target/release/examples/bench_kv_write)
START=$(date +%s)

# Per side: node count, names, URLs, pids, command lines (one string each, for restarts).
declare -A COUNT
declare -a B_URL B_PID B_CMD E_URL E_PID E_CMD

forget_pid() {
  local p=$1 keep=() q
  for q in "${BENCH_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BENCH_PIDS=("${keep[@]}")
}

# Starts a command in the background with its output appended to LOG; sets LAUNCHED (its pid).
launch() {
  local log=$1; shift
  "$@" >>"$log" 2>&1 &
  LAUNCHED=$!
  BENCH_PIDS+=("$LAUNCHED")
}

setup_berth() {
  local n=$BERTH_SERVERS i j ports
  COUNT[berth]=$n
  read -r -a ports <<<"$(alloc_ports $((4 * n)))"
  printf '{"performance":{"raft_multiplier":%s}}\n' "$RAFT_MULTIPLIER" >"$BENCH_TMP/berth.json"
  for i in $(seq 0 $((n - 1))); do
    local http=${ports[$((4 * i))]} dns=${ports[$((4 * i + 1))]} rpc=${ports[$((4 * i + 2))]} serf=${ports[$((4 * i + 3))]}
    mkdir -p "$BENCH_TMP/b$i"
    local cmd="taskset -c $SERVER_CPUS target/release/berth agent -server -node=b$i -bind=127.0.0.1 -client=127.0.0.1"
    cmd+=" -data-dir=$BENCH_TMP/b$i -http-port=$http -dns-port=$dns -server-port=$rpc -serf-lan-port=$serf"
    cmd+=" -config-file=$BENCH_TMP/berth.json -log-level=warn"
    if [ "$n" = 1 ]; then
      cmd+=" -bootstrap"
    else
      cmd+=" -bootstrap-expect=$n -retry-interval=1s"
      for j in $(seq 0 $((n - 1))); do
        [ "$j" = "$i" ] || cmd+=" -retry-join=127.0.0.1:${ports[$((4 * j + 3))]}"
      done
    fi
    B_CMD[$i]=$cmd
    B_URL[$i]="http://127.0.0.1:$http"
  done
  for i in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086
    launch "$BENCH_TMP/b$i.log" ${B_CMD[$i]}
    B_PID[$i]=$LAUNCHED
  done
  echo "berth: $n server(s); first one started with:"
  echo "  ${B_CMD[0]}"
}

setup_etcd() {
  local n=$ETCD_MEMBERS i ports cluster=""
  COUNT[etcd]=$n
  read -r -a ports <<<"$(alloc_ports $((2 * n)))"
  for i in $(seq 0 $((n - 1))); do
    cluster+="${cluster:+,}e$i=http://127.0.0.1:${ports[$((2 * i + 1))]}"
  done
  for i in $(seq 0 $((n - 1))); do
    local client=${ports[$((2 * i))]} peer=${ports[$((2 * i + 1))]}
    mkdir -p "$BENCH_TMP/e$i"
    E_CMD[$i]="taskset -c $SERVER_CPUS etcd --name e$i --data-dir $BENCH_TMP/e$i/data"
    E_CMD[$i]+=" --listen-client-urls http://127.0.0.1:$client --advertise-client-urls http://127.0.0.1:$client"
    E_CMD[$i]+=" --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer"
    E_CMD[$i]+=" --initial-cluster $cluster --initial-cluster-state new --initial-cluster-token bench-$$"
    E_CMD[$i]+=" --logger zap --log-level warn"
    E_URL[$i]="http://127.0.0.1:$client"
  done
  for i in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086
    launch "$BENCH_TMP/e$i.log" ${E_CMD[$i]}
    E_PID[$i]=$LAUNCHED
  done
  echo "etcd: $n member(s), $(etcd --version | head -1); first one started with:"
  echo "  ${E_CMD[0]}"
}

urls_of() { if [ "$1" = berth ]; then (IFS=,; echo "${B_URL[*]}"); else (IFS=,; echo "${E_URL[*]}"); fi; }

show_logs() {
  local f
  for f in "$BENCH_TMP"/*.log; do echo "--- $f" >&2; tail -15 "$f" >&2; done
}

# Prints the leader's index for a side (waits until all members agree).
leader_index() {
  local out
  out=$("${HELPER[@]}" leader --target "$1" --urls "$(urls_of "$1")" --timeout-s 60) || { show_logs; return 1; }
  field "$out" leader
}

field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k { print $2 }'; }
pct() { sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } r = int((p * NR + 99) / 100); if (r < 1) r = 1; if (r > NR) r = NR; print a[r] }'; }

echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); servers on core(s) $SERVER_CPUS, client on $CLIENT_CPUS; data dirs in $BENCH_TMP ($(df -T "$BENCH_TMP" | awk 'NR==2 { print $2 " on " $1 }')); busy before start (other tenants): $(machine_busy)"
echo "reproduce: SERVERS=$SERVERS BERTH_SERVERS=$BERTH_SERVERS ETCD_MEMBERS=$ETCD_MEMBERS CONCURRENCY=\"$CONCURRENCY\" SECS=$SECS VALUE_SIZE=$VALUE_SIZE KILLS=$KILLS RAFT_MULTIPLIER=$RAFT_MULTIPLIER ${ONLY:+ONLY=$ONLY }bench/raft.sh"
for side in "${SIDES[@]}"; do "setup_$side"; done
declare -A LEADER
for side in "${SIDES[@]}"; do
  LEADER[$side]=$(leader_index "$side")
  echo "$side leader: member ${LEADER[$side]}"
done

# --- write throughput and latency --------------------------------------------------------
declare -A RES
echo
echo "load command: ${HELPER[*]} load --target <berth|etcd> --url <leader> --concurrency <N> --secs $SECS --value-size $VALUE_SIZE"
for c in $CONCURRENCY; do
  for side in "${SIDES[@]}"; do
    if [ "$side" = berth ]; then url=${B_URL[${LEADER[berth]}]}; else url=${E_URL[${LEADER[etcd]}]}; fi
    out=$("${HELPER[@]}" load --target "$side" --url "$url" --concurrency "$c" --secs "$SECS" --value-size "$VALUE_SIZE") \
      || { show_logs; exit 1; }
    echo "  $out"
    RES[$side,$c]=$out
  done
done

# --- leader failover ------------------------------------------------------------------------
declare -A FAIL
for side in "${SIDES[@]}"; do
  : >"$BENCH_TMP/failover.$side"
  if [ "${COUNT[$side]}" -lt 3 ] || [ "$KILLS" = 0 ]; then continue; fi
  echo
  echo "$side failover: $KILLS x (kill -9 leader; write through the survivors until acknowledged; restart it)"
  for r in $(seq 1 "$KILLS"); do
    l=$(leader_index "$side")
    survivors=()
    for i in $(seq 0 $((COUNT[$side] - 1))); do
      [ "$i" = "$l" ] && continue
      if [ "$side" = berth ]; then survivors+=("${B_URL[$i]}"); else survivors+=("${E_URL[$i]}"); fi
    done
    if [ "$side" = berth ]; then pid=${B_PID[$l]}; else pid=${E_PID[$l]}; fi
    out=$("${HELPER[@]}" failover --target "$side" --urls "$(IFS=,; echo "${survivors[*]}")" --kill-pid "$pid" --timeout-s 30) \
      || { show_logs; exit 1; }
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
    printf '  round %2d: killed member %s; %s\n' "$r" "$l" "$out"
    field "$out" failover_ms >>"$BENCH_TMP/failover.$side"
    # shellcheck disable=SC2086
    if [ "$side" = berth ]; then
      launch "$BENCH_TMP/b$l.log" ${B_CMD[$l]}
      B_PID[$l]=$LAUNCHED
    else
      launch "$BENCH_TMP/e$l.log" ${E_CMD[$l]}
      E_PID[$l]=$LAUNCHED
    fi
    leader_index "$side" >/dev/null
    sleep 1 # let the restarted member catch up before the next kill
  done
  FAIL[$side]="p50 $(pct "$BENCH_TMP/failover.$side" 50) ms, p99 $(pct "$BENCH_TMP/failover.$side" 99) ms, max $(pct "$BENCH_TMP/failover.$side" 100) ms over $(wc -l <"$BENCH_TMP/failover.$side") kills"
done

# --- summary --------------------------------------------------------------------------------
echo
echo "== Summary ($(( $(date +%s) - START )) s; machine busy now, other tenants: $(machine_busy))"
echo "Berth: ${COUNT[berth]:-0} server(s), raft_multiplier=$RAFT_MULTIPLIER; etcd: ${COUNT[etcd]:-0} member(s) ($(command -v etcd >/dev/null && etcd --version | head -1))"
if [ "${COUNT[berth]:-0}" != "${COUNT[etcd]:-0}" ] && [ ${#SIDES[@]} = 2 ]; then
  echo "NOTE: the clusters differ in size (${COUNT[berth]} vs ${COUNT[etcd]}): the ratios below compare unlike setups"
fi
printf '%-6s %11s %8s %8s %11s %8s %8s %12s %12s\n' conc berth_w/s p50_ms p99_ms etcd_w/s p50_ms p99_ms ratio_w/s ratio_p99
for c in $CONCURRENCY; do
  b=${RES[berth,$c]:-}; e=${RES[etcd,$c]:-}
  bw=$(field "$b" writes_per_s); ew=$(field "$e" writes_per_s)
  b99=$(field "$b" p99_ms); e99=$(field "$e" p99_ms)
  ratio=$(awk -v b="${bw:-0}" -v e="${ew:-0}" 'BEGIN { printf (e > 0 && b > 0 ? "%.2f" : "-"), b / (e > 0 ? e : 1) }')
  ratio99=$(awk -v b="${b99:-0}" -v e="${e99:-0}" 'BEGIN { printf (e > 0 && b > 0 ? "%.2f" : "-"), b / (e > 0 ? e : 1) }')
  printf '%-6s %11s %8s %8s %11s %8s %8s %12s %12s\n' "$c" "${bw:--}" "$(field "$b" p50_ms)" "${b99:--}" \
    "${ew:--}" "$(field "$e" p50_ms)" "${e99:--}" "$ratio" "$ratio99"
  for side in berth etcd; do
    errs=$(field "${RES[$side,$c]:-}" errors)
    [ -n "$errs" ] && [ "$errs" != 0 ] && echo "  $side c=$c: $errs errors (${RES[$side,$c]})"
  done
done
echo "ratio_w/s = Berth/etcd writes per second (goal >= 1.0); ratio_p99 = Berth/etcd p99 (lower is better); goal: Berth p99 <= 3x its p50"
for side in "${SIDES[@]}"; do
  echo "failover $side: ${FAIL[$side]:-not measured (needs 3+ servers and KILLS > 0)}"
done
echo "goal: writes resume <= 3 s p99 after kill -9 of the leader (performance-reliability.md 8.15)"
echo "reproduce: SERVERS=$SERVERS BERTH_SERVERS=$BERTH_SERVERS ETCD_MEMBERS=$ETCD_MEMBERS CONCURRENCY=\"$CONCURRENCY\" SECS=$SECS VALUE_SIZE=$VALUE_SIZE KILLS=$KILLS RAFT_MULTIPLIER=$RAFT_MULTIPLIER ${ONLY:+ONLY=$ONLY }bench/raft.sh"
