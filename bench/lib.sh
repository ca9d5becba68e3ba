# Shared helpers for bench/*.sh: tools, free ports, starting Berth pinned to core 0, cleanup.
# Sourced, not run. Everything talks to 127.0.0.1 only.

BENCH_PIDS=()
BENCH_TMP="$(mktemp -d /tmp/berth-bench.XXXXXX)"

# Kills what this script started (by pid) and removes its temp dir; installed as the EXIT trap.
bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# Installs the Debian packages named, if their commands are missing (wrk, curl).
need_tools() {
  local missing=() t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
    || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }
}

# Prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Prints COUNT distinct ports that are free for both TCP and UDP on 127.0.0.1, chosen below
# the kernel's ephemeral range (32768+) so that no outgoing connection of the agents or of the
# poller can take one between now and a (re)start that binds it. All are held until all are
# picked, so they are distinct.
alloc_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
want, held, out = int(sys.argv[1]), [], []
for _ in range(20000):
    if len(out) == want:
        break
    p = random.randint(20000, 32000)
    if p in out:
        continue
    try:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", p))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
    except OSError:
        continue
    held += [t, u]; out.append(p)
if len(out) != want:
    sys.exit("could not find %d free ports" % want)
print(" ".join(map(str, out)))
PY
}

# Waits (at most 30 s) until URL answers 200 with a non-empty body other than "".
wait_http() {
  local url=$1 i body
  for i in $(seq 1 300); do
    body=$(curl -fsS --max-time 1 "$url" 2>/dev/null || true)
    if [ -n "$body" ] && [ "$body" != '""' ]; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $url" >&2
  return 1
}

# Starts Berth on core 0 as a one-node server; sets BERTH_PID and BERTH (its base URL).
start_berth() {
  local http dns srv serf
  http=$(free_port); dns=$(free_port); srv=$(free_port); serf=$(free_port)
  mkdir -p "$BENCH_TMP/data"
  BERTH_CMD=(taskset -c 0 target/release/berth agent -server -bootstrap -data-dir "$BENCH_TMP/data"
    -http-port="$http" -dns-port="$dns" -server-port="$srv" -serf-lan-port="$serf"
    -node=bench -log-level=warn)
  "${BERTH_CMD[@]}" >"$BENCH_TMP/berth.log" 2>&1 &
  BERTH_PID=$!
  BENCH_PIDS+=("$BERTH_PID")
  BERTH="http://127.0.0.1:$http"
  wait_http "$BERTH/v1/status/leader" || { cat "$BENCH_TMP/berth.log" >&2; return 1; }
}

# Registers instance N of service web on its own node nN (10.0.N/256.N%256).
register_web() {
  local n=$1
  curl -fsS -X PUT "$BERTH/v1/catalog/register" -o /dev/null --data-binary \
    "{\"Node\":\"n$n\",\"Address\":\"10.0.$((n / 256)).$((n % 256))\",\"Service\":{\"Service\":\"web\",\"ID\":\"web-$n\",\"Port\":8080,\"Tags\":[\"v1\"]},\"Check\":{\"Name\":\"alive\",\"ServiceID\":\"web-$n\",\"Status\":\"passing\"}}"
}

# Prints how busy the whole machine is (percent of all cores) over 2 s while we run nothing:
# other tenants' load on this 2-vCPU box skews every number, so each report shows it.
machine_busy() {
  local a b
  a=($(sed -n 's/^cpu  //p' /proc/stat)); sleep 2; b=($(sed -n 's/^cpu  //p' /proc/stat))
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); tot = 0; idle = 0
    for (i = 1; i <= n; i++) tot += y[i] - x[i]
    idle = (y[4] - x[4]) + (y[5] - x[5])
    printf "%.0f%%", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}
