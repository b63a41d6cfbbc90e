"""Dashboard weight and load with 10,000 clusters: a daemon on the sim provider (one tick: plan, a run of every
cluster), then what one dashboard load fetches — the page and its API reads — timed in process (FastAPI's
TestClient, no network), with their sizes. Prints the figures; asserts nothing.

    python bench/dashboard.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(n: int) -> None:
    from fastapi.testclient import TestClient

    from fleet.clock import FakeClock
    from fleet.daemon.api import create_app
    from fleet.daemon.service import Daemon
    from fleet.runtime import build_runtime
    from tests.integration.fleetfiles import write_fleet

    with tempfile.TemporaryDirectory() as d:
        cfg = write_fleet(Path(d), n=n, concurrency=50)
        cfg.write_text(cfg.read_text().replace("        stateFile: sim-world.json\n", ""))  # no world file rewrites
        clock = FakeClock(datetime(2026, 1, 5, 10, tzinfo=UTC))
        t0 = time.perf_counter()
        daemon = Daemon(build_runtime(cfg, clock), clock)
        daemon.tick()
        print(f"{n} clusters: first tick (plan, run of {n}) {time.perf_counter() - t0:.1f} s")
        client = TestClient(create_app(daemon), base_url="http://127.0.0.1")
        total_b, total_s = 0, 0.0
        for path in ("/dashboard", "/api/v1/whoami", "/api/v1/summary", "/api/v1/rollouts?members=false",
                     "/api/v1/stages?members=false", "/api/v1/clusters?limit=50&offset=0",
                     "/api/v1/clusters?limit=50&upgradeState=upgrading", "/api/v1/events?after=0&limit=200"):
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                r = client.get(path)
                best = min(best, time.perf_counter() - t)
            assert r.status_code == 200, (path, r.status_code)
            total_b += len(r.content)
            total_s += best if path != "/api/v1/clusters?limit=50&upgradeState=upgrading" else 0
            print(f"  {path:52s} {len(r.content) / 1024:8.1f} KiB  {best * 1000:7.1f} ms")
        print(f"one dashboard load (page + whoami + summary + rollouts + stages + one page of clusters + events): "
              f"{total_b / 1024:.0f} KiB, {total_s * 1000:.0f} ms of server time")
        daemon.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
