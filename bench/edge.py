#!/usr/bin/env python3
"""Container start -> nginx routing to it, for bench/edge.sh.

Each round scales the compose project's `web` from 1 to 2 and takes the new container's
State.StartedAt (the engine's clock, this host's) as the start. Two pollers run from before
the first round, so neither waits on docker-compose: one asks the edge on 127.0.0.1 over and
over and keeps (time, answer), giving when nginx first routed to the new container (Berth:
registered, rendered, nginx reloaded); the other follows `docker events` and polls each new
container on its own address, giving the floor (the web process itself answering; it includes
one `docker inspect`). Then the container is removed and the edge must stop answering from
it. Prints p50/p99 of both.
"""
import json
import subprocess
import sys
import threading
import time
import urllib.request


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def compose(project, file, *args):
    return sh("docker-compose", "-p", project, "-f", file, *args)


def started_ns(cid):
    # RFC 3339 with nanoseconds, UTC: 2026-12-02T07:06:10.123456789Z
    s = sh("docker", "inspect", "-f", "{{.State.StartedAt}}", cid)
    secs, frac = s.rstrip("Z").split(".")
    base = time.mktime(time.strptime(secs, "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return int(base) * 10**9 + int(frac.ljust(9, "0")[:9])


def body(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.read().decode().strip()
    except Exception:
        return None


def wait_for(url, want, out, key, deadline):
    while time.time() < deadline:
        if body(url) == want:
            out[key] = time.time_ns()
            return
        time.sleep(0.002)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    project, file, edge_port, rounds, label = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    edge = f"http://127.0.0.1:{edge_port}/"
    stop = threading.Event()
    seen = []  # (time_ns, body) of every edge answer

    def poll_edge():
        while not stop.is_set():
            b = body(edge)
            seen.append((time.time_ns(), b))

    ready = {}  # container id -> time_ns it answered on its own address

    def follow_starts():
        ev = subprocess.Popen(
            ["docker", "events", "--filter", "type=container", "--filter", "event=start",
             "--filter", f"label=com.docker.compose.project={project}",
             "--filter", "label=com.docker.compose.service=web", "--format", "{{.ID}}"],
            stdout=subprocess.PIPE, text=True)
        for line in ev.stdout:
            cid = line.strip()
            info = sh("docker", "inspect", "-f",
                      "{{.Config.Hostname}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", cid)
            host, ip = info.split()
            out = {}
            wait_for(f"http://{ip}/", host, out, "ready", time.time() + 30)
            if "ready" in out:
                ready[cid] = out["ready"]
            if stop.is_set():
                break
        ev.kill()

    threading.Thread(target=poll_edge, daemon=True).start()
    threading.Thread(target=follow_starts, daemon=True).start()
    time.sleep(1)
    route, floor = [], []
    for i in range(rounds):
        before = set(compose(project, file, "ps", "-q", "web").split())
        mark = len(seen)
        compose(project, file, "up", "-d", "--no-deps", "--no-recreate", "--scale", "web=2", "web")
        new = [c for c in compose(project, file, "ps", "-q", "web").split() if c not in before]
        assert len(new) == 1, new
        cid = new[0]
        host = sh("docker", "inspect", "-f", "{{.Config.Hostname}}", cid)
        t0 = started_ns(cid)
        deadline = time.time() + 30
        routed = None
        while time.time() < deadline and (routed is None or not any(k.startswith(cid) for k in ready)):
            routed = routed or next((t for t, b in seen[mark:] if b == host), None)
            time.sleep(0.01)
        ready_t = next((t for k, t in ready.items() if k.startswith(cid)), None)
        if routed is None or ready_t is None:
            sys.exit(f"round {i}: {host} never answered (routed {routed}, ready {ready_t})")
        route.append((routed - t0) / 1e6)
        floor.append((ready_t - t0) / 1e6)
        # Back to one: the removed container leaves the edge before the next round.
        sh("docker", "rm", "-f", cid)
        mark = len(seen)
        gone_by = time.time() + 30
        while time.time() < gone_by:
            recent = [b for _, b in seen[-6:]]
            if len(seen) - mark >= 6 and host not in recent:
                break
            time.sleep(0.05)
    stop.set()
    r50, r99, f50, f99 = pct(route, 50), pct(route, 99), pct(floor, 50), pct(floor, 99)
    print(f"{label}: start -> nginx routes to it: p50 {r50:.0f} ms, p99 {r99:.0f} ms over {rounds} scale-ups "
          f"(goal p50 <= 1000 ms); floor (container answers on its own address) p50 {f50:.0f} ms, p99 {f99:.0f} ms; "
          f"ratio p50 {r50 / max(f50, 0.001):.1f}x")
    print(json.dumps({"label": label, "route_ms": route, "ready_ms": floor}), file=sys.stderr)


if __name__ == "__main__":
    main()
