#!/usr/bin/env bash
# DNS throughput: Berth answering web.service.consul A and SRV (10 healthy instances) vs
# unbound serving the same records as local-data, one thread each, pinned to core 0, in the
# same run; dnsperf on core 1. Prints QPS, loss and p99 for both and the Berth/unbound ratio.
# Env: DURATION (10), ROUNDS (3). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}

need_tools curl taskset dnsperf unbound dig
cargo build --release --bin berth

start_berth
DNS_PORT=$(sed -n 's/.*-dns-port=\([0-9]*\).*/\1/p' <<<"${BERTH_CMD[*]}")
for n in $(seq 1 10); do register_web "$n"; done

# unbound with the same answers Berth gives (A: node addresses; SRV: node targets + glue).
UNBOUND_PORT=$(free_port)
conf="$BENCH_TMP/unbound.conf"
{
  echo "server:"
  echo "  interface: 127.0.0.1"
  echo "  port: $UNBOUND_PORT"
  echo "  num-threads: 1"
  echo "  do-daemonize: no"
  echo "  chroot: \"\""
  echo "  username: \"\""
  echo "  pidfile: \"\""
  echo "  directory: \"$BENCH_TMP\""
  echo "  use-syslog: no"
  echo "  logfile: \"\""
  echo "  verbosity: 0"
  echo "  access-control: 127.0.0.0/8 allow"
  echo "  local-zone: \"consul.\" static"
  for n in $(seq 1 10); do
    addr="10.0.$((n / 256)).$((n % 256))"
    echo "  local-data: \"web.service.consul. 0 IN A $addr\""
    echo "  local-data: \"web.service.consul. 0 IN SRV 1 1 8080 n$n.node.dc1.consul.\""
    echo "  local-data: \"n$n.node.dc1.consul. 0 IN A $addr\""
  done
} >"$conf"
taskset -c 0 unbound -d -c "$conf" >"$BENCH_TMP/unbound.log" 2>&1 &
BENCH_PIDS+=($!)
for i in $(seq 1 50); do
  dig @127.0.0.1 -p "$UNBOUND_PORT" +short web.service.consul >/dev/null 2>&1 && break
  sleep 0.1
done

# The same query mix for both: A and SRV.
printf 'web.service.consul A\nweb.service.consul SRV\n' >"$BENCH_TMP/queries"
for p in "$DNS_PORT" "$UNBOUND_PORT"; do
  a=$(dig @127.0.0.1 -p "$p" +short web.service.consul | wc -l)
  s=$(dig @127.0.0.1 -p "$p" +short web.service.consul SRV | wc -l)
  echo "port $p answers: $a A, $s SRV (dig with EDNS)"
done

# Runs dnsperf on core 1 against PORT; prints "qps lost% p99_ms".
run_dnsperf() {
  local out
  out=$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$1" -d "$BENCH_TMP/queries" -l "$DURATION" -c 1 -v 2>&1)
  echo "$out" | grep -v '^>' >>"$BENCH_TMP/dnsperf.log"
  local qps lost p99
  qps=$(echo "$out" | awk '/Queries per second:/ { print int($4) }')
  lost=$(echo "$out" | awk '/Queries lost:/ { gsub(/[()%]/, "", $4); print $4 }')
  p99=$(echo "$out" | awk '/^> / { print $NF * 1000 }' | sort -n | awk '{ a[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f", a[i] }')
  echo "$qps $lost $p99"
}

echo
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); servers on core 0, dnsperf on core 1; busy before the runs (other tenants): $(machine_busy)"
echo "reproduce: bench/dns.sh   (dnsperf: taskset -c 1 dnsperf -s 127.0.0.1 -p PORT -d queries -l $DURATION -c 1 -v; queries: web.service.consul A and SRV)"
printf '%5s %10s %7s %8s %10s %7s %8s %7s\n' round berth_qps lost% p99_ms unbound_qps lost% p99_ms ratio
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  read -r bq bl b99 < <(run_dnsperf "$DNS_PORT")
  read -r uq ul u99 < <(run_dnsperf "$UNBOUND_PORT")
  ratio=$(awk -v b="$bq" -v u="$uq" 'BEGIN { printf "%.2f", (u > 0 ? b / u : 0) }')
  ratios+=("$ratio")
  printf '%5s %10s %7s %8s %10s %7s %8s %7s\n' "$r" "$bq" "$bl" "$b99" "$uq" "$ul" "$u99" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR]=$1 } END { print a[int((NR + 1) / 2)] }')
verdict=$(awk -v m="$median" 'BEGIN { print (m >= 0.5 ? "meets" : "MISSES") }')
echo "  => median Berth/unbound QPS = $median ($verdict the 0.5x goal; loss goal < 0.1%)"
