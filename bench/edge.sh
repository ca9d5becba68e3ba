#!/usr/bin/env bash
# Edge latency: a web container's start (State.StartedAt) -> nginx in the edge routing
# requests to it, p50/p99 over ROUNDS (20) scale-ups of compose/docker-compose.yml's `web`
# from 1 to 2, with the compose file's wait (BERTH_EDGE_WAIT=100ms:500ms) and with wait 0.
# Same run, same starts: the floor, when the container answers on its own address.
# The image is built by scripts/build-image from the release binary. Traffic: 127.0.0.1 and
# the compose network only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-20}
need_tools curl
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); busy before: $(machine_busy)"
echo "docker: $(docker version --format '{{.Server.Version}}'), $(docker-compose version --short 2>/dev/null || true)"
cargo build --release --locked --bin berth 2>&1 | tail -1
scripts/build-image --binary target/release/berth --tag berth:bench --web-tag berth-web:bench

file=compose/docker-compose.yml
run() {
  local wait=$1 label=$2 project="berthbench$$"
  local ui edge
  ui=$(free_port); edge=$(free_port)
  export BERTH_IMAGE=berth:bench BERTH_WEB_IMAGE=berth-web:bench BERTH_UI_PORT=$ui BERTH_EDGE_PORT=$edge BERTH_EDGE_WAIT=$wait
  docker-compose -p "$project" -f "$file" up -d --scale web=1 >/dev/null 2>&1
  # A leader, and the edge routing to the first web container, before the first round.
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$edge/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "# python3 bench/edge.py $project $file $edge $ROUNDS '$label'   (BERTH_EDGE_WAIT=$wait)"
  python3 bench/edge.py "$project" "$file" "$edge" "$ROUNDS" "$label" 2>"$BENCH_TMP/$project.json" || status=$?
  docker-compose -p "$project" -f "$file" down -v -t 1 >/dev/null 2>&1
  return "${status:-0}"
}
run "100ms:500ms" "shipped wait 100ms:500ms"
run "0s" "wait 0"
