#!/usr/bin/env bash
# Docker registration latency: the engine's `start` event (its timeNano) -> the service visible
# in /v1/catalog/service/<name> (a blocking query returning with it), p50/p99 over STARTS (100)
# starts of a busybox container, with a published port (bridge) and on the host network.
# Peer, in the same run and on the same starts: registrator's way (a separate process takes
# the event, inspects, and PUTs /v1/agent/service/register on a second Berth agent with
# -docker=off), plus the floor (event received + inspect answered). Both agents on core 0,
# the client and peer on core 1. Loopback and the local Docker socket only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
STARTS=${STARTS:-100}
need_tools curl busybox
cargo build --release --bin berth --example bench_docker_reg
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); busy before: $(machine_busy)"
echo "docker: $(docker version --format '{{.Server.Version}}')"

image="berth-bench-busybox:$$"
label="berth-bench-$$"
root="$BENCH_TMP/rootfs"
mkdir -p "$root/bin" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in sh sleep; do ln -s busybox "$root/bin/$a"; done
tar -C "$root" -cf "$BENCH_TMP/rootfs.tar" .
docker import "$BENCH_TMP/rootfs.tar" "$image" >/dev/null
cleanup_docker() {
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null
  docker rmi -f "$image" >/dev/null 2>&1 || true
  bench_cleanup
}
trap cleanup_docker EXIT

start_agent() { # name, extra flags...; sets AGENT_URL
  local name=$1 http dns srv serf; shift
  read -r http dns srv serf <<<"$(alloc_ports 4)"
  taskset -c 0 target/release/berth agent -dev -node="$name" -http-port="$http" -dns-port="$dns" \
    -server-port="$srv" -serf-lan-port="$serf" -log-level=warn "$@" \
    >"$BENCH_TMP/$name.log" 2>&1 &
  BENCH_PIDS+=($!)
  wait_http "http://127.0.0.1:$http/v1/status/leader"
  AGENT_URL="http://127.0.0.1:$http"
}
start_agent berth -docker=unix:///var/run/docker.sock -require-label="$label"; a=$AGENT_URL
start_agent peer -docker=off; b=$AGENT_URL
for net in bridge host; do
  echo "reproduce: STARTS=$STARTS bench/docker_reg.sh" \
    "(taskset -c 1 target/release/examples/bench_docker_reg $a $b $image $label $STARTS $net)"
  taskset -c 1 target/release/examples/bench_docker_reg "$a" "$b" "$image" "$label" "$STARTS" "$net"
done
