"""Two `fleet daemon` processes on one PostgreSQL store with the sim provider: kill -9 the leader (three times),
the standby takes over within two lease durations each time, and the rollout finishes with no upgrade issued
twice (the sim stateFile world's own upgrade log).

The kills interrupt the rollout by construction, not by timing: cluster c1 is held before any daemon starts,
the first leader is killed only once it has dispatched a step (of c0), and c1 is released after the first
takeover - so c1's steps are dispatched by a later leader however fast or slow the machine is."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from fleet.clock import SystemClock
from fleet.execution.holds import set_hold
from fleet.runtime import open_config_store
from tests.ha.helpers import ha_fleet, port_of

FLEET = shutil.which("fleet") or "fleet"
TOKEN = "s3cr3t-canary-token"
LEASE_S = 2.0
KILLS = 3
HELD = "eks/lab/c1"


class Replica:
    def __init__(self, cfg: Path, log: Path):
        self.cfg, self.log = cfg, log
        self.base = f"http://127.0.0.1:{port_of(cfg)}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([FLEET, "daemon", "--config", str(self.cfg), "--log-format", "json"],
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def api(self, method: str, path: str, **kw) -> httpx.Response:
        return httpx.request(method, f"{self.base}{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=5, **kw)

    def info(self) -> dict | None:
        try:
            return httpx.get(f"{self.base}/api/v1/leader", timeout=1).json()
        except (httpx.HTTPError, ValueError):
            return None

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def wait_for(fn, timeout: float, every: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out")


@pytest.mark.postgres
def test_kill_dash_nine_the_leader_the_standby_takes_over_and_finishes(tmp_path, pg_url):
    rng = random.Random(9)
    cfgs = ha_fleet(tmp_path, n=2, concurrency=2, cp="1s", pool="1s", interval="1s", state=pg_url,
                    lease=f"{LEASE_S:g}s", token=TOKEN)
    reps = [Replica(c, tmp_path / f"daemon-{i}.log") for i, c in enumerate(cfgs)]
    takeovers: list[float] = []
    epochs: list[int] = []
    store = open_config_store(cfgs[0])            # creates the schema; c1 is held before any daemon runs
    set_hold(store, SystemClock().now(), "cluster", HELD, "released after the first takeover", "test")
    store.close()
    try:
        for r in reps:                    # one after the other: the first seeds the sim world's stateFile
            r.start()
            wait_for(lambda r=r: r.info(), timeout=60)

        def leader() -> Replica | None:
            found = [r for r in reps if (i := r.info()) and i["leader"]]
            assert len(found) <= 1, "two replicas act at once"
            return found[0] if found else None

        def dispatched(r: Replica) -> list[dict]:
            return r.api("GET", "/api/v1/events?kind=step-dispatched&limit=10000").json()["events"]

        for k in range(KILLS):
            old = wait_for(leader, timeout=30)
            epochs.append(old.info()["epoch"])
            if k == 0:                                              # mid-flight: c0 moving, c1 held
                evs = wait_for(lambda old=old: dispatched(old), timeout=60)
                assert {e["cluster_id"] for e in evs} == {"eks/lab/c0"}, evs
            time.sleep(rng.uniform(0.3, 1.5))                      # let it work, then kill it
            old.kill9()
            t0 = time.monotonic()
            new = wait_for(leader, timeout=4 * LEASE_S)
            takeovers.append(time.monotonic() - t0)
            assert new is not old
            if k == 0:
                assert new.api("POST", f"/api/v1/clusters/{HELD}/release").json()["released"] is True
            old.start()                                             # it comes back as a standby
            wait_for(lambda old=old: old.info(), timeout=60)
        assert max(takeovers) <= 2 * LEASE_S, takeovers
        assert epochs == sorted(set(epochs)), "every takeover must raise the epoch"

        def done() -> bool:
            r = leader()
            if r is None:
                return False
            d = httpx.get(f"{r.base}/api/v1/rollouts", timeout=5).json()["rollouts"]
            return bool(d) and all(x["status"] == "done" for x in d)
        wait_for(done, timeout=120, every=0.3)
        evs = httpx.get(f"{leader().base}/api/v1/events?kind=step-dispatched&limit=10000", timeout=5).json()["events"]
        assert len({e["data"]["epoch"] for e in evs}) >= 2, "the kills did not interrupt the rollout"
        assert min(e["data"]["epoch"] for e in evs if e["cluster_id"] == HELD) > epochs[0], evs
    finally:
        codes = [r.stop() for r in reps]
    assert codes == [0, 0]
    world = json.loads((tmp_path / "sim-world.json").read_text())
    assert all(c["control_plane"] == "1.30.4" for c in world["clusters"])
    log = [tuple(x) for x in world["upgrade_log"]]
    assert len(log) == len(set(log)), "an upgrade was issued twice"
    text = "".join(r.log.read_text() for r in reps)
    assert "leadership acquired" in text and TOKEN not in text
