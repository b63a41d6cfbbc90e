"""Scale benchmark: one daemon over 10,000 simulated clusters.

Measures, and prints against the targets of issue 9:
  * reconcile tick time (Daemon.tick: observe, plan, start runs, settle and dispatch, refresh the API view):
    the first tick (which starts the runs) and steady ticks with steps in flight      target < 5 s
  * resident memory of the process after the ticks (VmRSS; peak from getrusage)       target < 500 MB
  * GET /api/v1/clusters latency p50/p99, 50 concurrent clients (threads, keep-alive) on loopback against the
    daemon's real uvicorn server                                                       target p99 < 200 ms
  * GET /metrics scrape time                                                           target < 1 s

The fleet is generated (no inventory file); virtual time (FakeClock) moves between ticks so operations
progress. The state store is SQLite in a temp dir unless --state gives a URL (e.g. PostgreSQL).

    python bench/scale.py
    python bench/scale.py --clusters 2000 --requests 500
    python bench/scale.py --state postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import gc
import http.client
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from fleet.clock import FakeClock
from fleet.daemon.service import Daemon, _server_class
from fleet.execution.engine import Engine
from fleet.policy.loader import load_config
from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, NodePool
from fleet.runtime import Runtime
from fleet.state.store import SqlStore as Store
from providers.sim.adapter import SimProvider
from providers.sim.world import SimWorld

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
OFFERED = ("1.28.3", "1.28.9", "1.29.2", "1.29.8", "1.30.4")
CONFIG = """apiVersion: fleet.dev/v1alpha1
kind: FleetConfig
metadata: {{name: scale}}
spec:
  providers: [{{name: sim, type: sim}}]
  policies: policies
  state: {{url: "{state}"}}
  reconcileInterval: 60s
  http: {{listen: "127.0.0.1:{port}", tokenFile: token}}
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(n: int, state: str, d: Path, concurrency: int) -> Daemon:
    clock = FakeClock(START)
    world = SimWorld(clock, cp_duration=timedelta(minutes=10), pool_duration=timedelta(minutes=5))
    for i in range(n):
        cp = OFFERED[i % 3]
        world.add(Cluster(provider="sim", location=f"region-{i % 7}", name=f"c{i:05d}", control_plane=cp,
                          node_pools=tuple(NodePool(f"pool{j}", cp, 3) for j in range(2)),
                          labels={"env": ("prod", "staging", "dev")[i % 3], "team": f"t{i % 13}"},
                          available=OFFERED))
    (d / "policies").mkdir(exist_ok=True)
    (d / "token").write_text("bench-token-7c1f0e9a2b4d\n")
    port = free_port()
    cfg_file = d / "fleet.yaml"
    cfg_file.write_text(CONFIG.format(state=state, port=port))
    config = load_config(cfg_file)
    policies = [UpgradePolicy.model_validate({
        "apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": env},
        "spec": {"selector": {"matchLabels": {"env": env}}, "target": {"version": "1.30"},
                 "rollout": {"maxConcurrentClusters": concurrency, "maxFailures": 1000}}})
        for env in ("prod", "staging", "dev")]
    store = Store(state)
    providers = {"sim": SimProvider("sim", clock=clock, world=world)}
    engine = Engine(store, providers, lambda: policies, clock, reconcile_interval=timedelta(seconds=60))
    rt = Runtime(cfg_file, config, store, providers, engine, d / "policies")
    daemon = Daemon(rt, clock)
    daemon.port = port  # type: ignore[attr-defined]
    return daemon


def serve(daemon: Daemon) -> tuple[object, threading.Thread]:
    import uvicorn

    from fleet.daemon.api import create_app
    server = _server_class()(uvicorn.Config(create_app(daemon), host="127.0.0.1", port=daemon.port,  # type: ignore[attr-defined]
                                            log_config=None, access_log=False, lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, t


def _load_worker(base: str, clients: int, requests: int, path: str, out: object) -> None:
    """In its own process (so the clients do not share the server's interpreter lock): ``clients`` threads,
    each on one keep-alive connection, ``requests`` in all; puts the latencies on ``out``."""
    per = max(1, requests // clients)
    lat: list[float] = []
    lock = threading.Lock()

    host, port = base.removeprefix("http://").split(":")

    def get(conn: http.client.HTTPConnection) -> None:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status

    def worker() -> None:
        mine = []
        conn = http.client.HTTPConnection(host, int(port), timeout=30)   # one keep-alive connection
        get(conn)                                        # connect first: measure requests, not handshakes
        for _ in range(per):
            t0 = time.perf_counter()
            get(conn)
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            lat.extend(mine)

    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    out.put(lat)  # type: ignore[attr-defined]


def load(base: str, clients: int, requests: int, path: str) -> list[float]:
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_load_worker, args=(base, clients, requests, path, q))
    proc.start()
    lat = q.get(timeout=600)
    proc.join(timeout=30)
    return lat


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clusters", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=6, help="steady ticks after the first")
    ap.add_argument("--concurrency", type=int, default=100, help="maxConcurrentClusters per policy")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() before the HTTP load (experiment)")
    ap.add_argument("--state", default=None, help="state store URL (default: SQLite in a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleet-scale-") as tmp:
        d = Path(tmp)
        state = args.state or f"sqlite:///{d}/state.db"
        t0 = time.perf_counter()
        daemon = build(args.clusters, state, d, args.concurrency)
        print(f"fleet: {args.clusters} sim clusters x 2 pools, 3 policies, maxConcurrentClusters "
              f"{args.concurrency}; store {state.split(':')[0]}; built in {time.perf_counter() - t0:.1f} s")
        clock: FakeClock = daemon.clock  # type: ignore[assignment]
        times = []
        for i in range(args.ticks + 1):
            t0 = time.perf_counter()
            res = daemon.tick()
            times.append(time.perf_counter() - t0)
            assert res is not None, "tick failed"
            print(f"  tick {i}: {times[-1]:.2f} s  dispatched={res.dispatched} polled={res.polled} "
                  f"finished={res.finished_steps} runs_started={res.runs_started}")
            clock.advance(timedelta(minutes=4))
        gc.collect()
        if args.freeze:
            gc.freeze()
        steady = times[1:] or times
        rss, peak = rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        server, thread = serve(daemon)
        base = f"http://127.0.0.1:{daemon.port}"  # type: ignore[attr-defined]
        try:
            body = httpx.get(f"{base}/api/v1/clusters", timeout=30).json()
            assert body["total"] == args.clusters, body["total"]
            single = load(base, 1, 100, "/api/v1/clusters")
            lat = load(base, args.clients, args.requests, "/api/v1/clusters")
            small = load(base, args.clients, args.requests, "/api/v1/clusters?limit=50")
            scrapes = []
            for _ in range(5):
                t0 = time.perf_counter()
                m = httpx.get(f"{base}/metrics", timeout=30)
                scrapes.append(time.perf_counter() - t0)
            assert m.status_code == 200
        finally:
            server.should_exit = True  # type: ignore[attr-defined]
            thread.join(timeout=10)
            daemon.stop()
    rows = [
        ("first tick (starts the runs)", f"{times[0]:.2f} s", "< 5 s", times[0] < 5),
        ("steady tick, median / max", f"{statistics.median(steady):.2f} / {max(steady):.2f} s", "< 5 s",
         max(steady) < 5),
        ("resident memory (VmRSS) / peak", f"{rss:.0f} / {peak:.0f} MB", "< 500 MB", peak < 500),
        (f"GET /api/v1/clusters (1000 per page) p50 / p99, {args.clients} clients",
         f"{pct(lat, 50) * 1000:.0f} / {pct(lat, 99) * 1000:.0f} ms", "p99 < 200 ms", pct(lat, 99) < 0.2),
        ("GET /api/v1/clusters (1000 per page) p50 / p99, 1 client",
         f"{pct(single, 50) * 1000:.0f} / {pct(single, 99) * 1000:.0f} ms", "(reference)", True),
        (f"GET /api/v1/clusters?limit=50 p50 / p99, {args.clients} clients",
         f"{pct(small, 50) * 1000:.0f} / {pct(small, 99) * 1000:.0f} ms", "p99 < 200 ms", pct(small, 99) < 0.2),
        ("GET /metrics scrape, median / max", f"{statistics.median(scrapes) * 1000:.0f} / "
         f"{max(scrapes) * 1000:.0f} ms ({len(m.content) // 1024} KiB)", "< 1 s", max(scrapes) < 1),
    ]
    print()
    for name, value, target, ok in rows:
        print(f"  {name:<58} {value:>24}   {target:<13} {'ok' if ok else 'MISSED'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
