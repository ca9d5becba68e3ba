#!/usr/bin/env bash
# Template runner latency: registration -> new upstream file on disk, and -> nginx routing to
# the new backend, with wait 0 (with and without `validate`, nginx -t) and with wait 2s:10s,
# p50/p99 over CHANGES changes (50).
# Peer for the file: a hand-written blocking-query loop against the same agent that writes the
# same upstream lines (examples/bench_template_runner.rs), measured in the same run. Berth runs
# pinned to core 0, nginx and the client on core 1. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
CHANGES=${CHANGES:-50}
export PATH="$PATH:/usr/sbin"
need_tools curl
command -v nginx >/dev/null || need_tools nginx-light
cargo build --release --bin berth --example bench_template_runner
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p'); busy before: $(machine_busy)"

run_case() {
  local wait=$1 dir="$BENCH_TMP/$2" validate=$3 http dns srv serf ngx
  mkdir -p "$dir/tmp"
  read -r http dns srv serf ngx <<<"$(alloc_ports 5)"
  cat >"$dir/nginx.ctmpl" <<EOF
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  upstream http_backend {
  {{- range service "web" }}
    server {{ .Address }}:{{ .Port }};
  {{- else }}
    server 127.0.0.1:9;
  {{- end }}
  }
  server { listen 127.0.0.1:$ngx; location / { proxy_pass http://http_backend; } }
}
EOF
  local waitkey=""
  [ "$wait" != 0 ] && waitkey="\"wait\": \"$wait\","
  cat >"$dir/berth.json" <<EOF
{"template": {"source": "$dir/nginx.ctmpl", "destination": "$dir/nginx.conf", $waitkey
  $( [ "$validate" = yes ] && echo "\"validate\": \"nginx -t -q -p $dir -c %s\",")
  "command": "nginx -p $dir -c $dir/nginx.conf -s reload"}}
EOF
  taskset -c 0 target/release/berth agent -dev -http-port="$http" -dns-port="$dns" \
    -server-port="$srv" -serf-lan-port="$serf" -log-level=warn -config-file "$dir/berth.json" \
    >"$dir/berth.log" 2>&1 &
  BENCH_PIDS+=($!)
  wait_http "http://127.0.0.1:$http/v1/status/leader"
  for _ in $(seq 1 100); do [ -f "$dir/nginx.conf" ] && break; sleep 0.1; done
  taskset -c 1 nginx -p "$dir" -c "$dir/nginx.conf"
  echo "wait=$wait validate=$validate: reproduce: CHANGES=$CHANGES bench/template_runner.sh" \
    "(taskset -c 1 target/release/examples/bench_template_runner http://127.0.0.1:$http $dir/nginx.conf $dir/peer.conf $ngx $CHANGES)"
  taskset -c 1 target/release/examples/bench_template_runner "http://127.0.0.1:$http" \
    "$dir/nginx.conf" "$dir/peer.conf" "$ngx" "$CHANGES"
  nginx -p "$dir" -c "$dir/nginx.conf" -s stop || true
}

run_case 0 nowait yes
run_case 0 nowait-novalidate no
run_case 2s:10s wait yes
