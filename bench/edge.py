#!/usr/bin/env python3
"""Container start -> nginx routing to it, for bench/edge.sh.

Each round scales the compose project's `web` from 1 to 2, takes the new container's
State.StartedAt (the engine's clock, this host's), then polls concurrently: the container's
own address (the floor: when the web process itself answers) and the edge on 127.0.0.1
(Berth: registered, rendered, nginx reloaded, routed). Then it scales back to 1 and waits
until the edge stops answering from the removed container. Prints p50/p99 of both.
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
    route, ready = [], []
    for i in range(rounds):
        before = set(compose(project, file, "ps", "-q", "web").split())
        compose(project, file, "up", "-d", "--no-deps", "--no-recreate", "--scale", "web=2", "web")
        new = [c for c in compose(project, file, "ps", "-q", "web").split() if c not in before]
        assert len(new) == 1, new
        cid = new[0]
        host = sh("docker", "inspect", "-f", "{{.Config.Hostname}}", cid)
        ip = sh("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", cid)
        t0 = started_ns(cid)
        out = {}
        deadline = time.time() + 30
        ts = [
            threading.Thread(target=wait_for, args=(f"http://{ip}/", host, out, "ready", deadline)),
            threading.Thread(target=wait_for, args=(edge, host, out, "route", deadline)),
        ]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if "route" not in out or "ready" not in out:
            sys.exit(f"round {i}: {host} never answered ({out})")
        route.append((out["route"] - t0) / 1e6)
        ready.append((out["ready"] - t0) / 1e6)
        # Back to one: the removed container leaves the edge before the next round.
        sh("docker", "rm", "-f", cid)
        gone_by = time.time() + 30
        while time.time() < gone_by:
            seen = {body(edge) for _ in range(6)}
            if host not in seen:
                break
            time.sleep(0.05)
    r50, r99, f50, f99 = pct(route, 50), pct(route, 99), pct(ready, 50), pct(ready, 99)
    print(f"{label}: start -> nginx routes to it: p50 {r50:.0f} ms, p99 {r99:.0f} ms over {rounds} scale-ups "
          f"(goal p50 <= 1000 ms); floor (container answers on its own address) p50 {f50:.0f} ms, p99 {f99:.0f} ms; "
          f"ratio p50 {r50 / max(f50, 0.001):.1f}x")
    print(json.dumps({"label": label, "route_ms": route, "ready_ms": ready}), file=sys.stderr)


if __name__ == "__main__":
    main()
