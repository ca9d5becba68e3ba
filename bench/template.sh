#!/usr/bin/env bash
# Template render time: corpus template 05 (16 KB haproxy) with 100 services x 10 instances,
# and templates/nginx-upstream.ctmpl with 1,000 instances against a hand-written Rust peer
# producing the same bytes. Pinned to core 0. Env: ROUNDS (500). No network.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-500}
cargo build --release --example bench_template
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); pinned to core 0"
echo "reproduce: bench/template.sh   (taskset -c 0 target/release/examples/bench_template $ROUNDS)"
for r in 1 2 3; do
  echo "round $r"
  taskset -c 0 target/release/examples/bench_template "$ROUNDS"
done
