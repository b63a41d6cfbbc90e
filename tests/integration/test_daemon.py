"""`fleet daemon` as a subprocess on the sim provider, driven through its HTTP API; SIGTERM, restart, finish."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.integration.fleetfiles import free_port, write_fleet

FLEET = shutil.which("fleet") or "fleet"
TOKEN = "s3cr3t-canary-token"


def start(cfg: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([FLEET, "daemon", "--config", str(cfg), "--log-format", "json"],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for(fn, timeout: float = 60.0, every: float = 0.2):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(every)
    raise AssertionError(f"timed out; last={last!r}")


def test_daemon_api_pause_resume_sigterm_restart(tmp_path):
    port = free_port()
    cfg = write_fleet(tmp_path, n=4, concurrency=2, cp="2s", pool="2s", interval="1s", token=TOKEN, port=port)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "daemon.log"
    proc = start(cfg, log)
    try:
        wait_for(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200)
        wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200)
        # writes need the token
        assert httpx.post(f"{base}/api/v1/pause", timeout=5).status_code == 401
        assert httpx.post(f"{base}/api/v1/pause", headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
        ok = httpx.post(f"{base}/api/v1/pause", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert ok.status_code == 200 and ok.json() == {"paused": True}
        assert httpx.get(f"{base}/api/v1/rollouts", timeout=5).json()["paused"] is True
        paused_at = time.monotonic()
        time.sleep(3)
        n_before = len(httpx.get(f"{base}/api/v1/events?kind=step-dispatched", timeout=5).json()["events"])
        time.sleep(3)
        n_after = len(httpx.get(f"{base}/api/v1/events?kind=step-dispatched", timeout=5).json()["events"])
        assert n_after == n_before, "a step started while paused"
        assert time.monotonic() - paused_at >= 6
        assert httpx.post(f"{base}/api/v1/resume", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).status_code == 200
        wait_for(lambda: len(httpx.get(f"{base}/api/v1/events?kind=step-succeeded", timeout=5).json()["events"]) >= 2)
        clusters = httpx.get(f"{base}/api/v1/clusters", timeout=5).json()
        assert clusters["total"] == 4
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "fleet_reconcile_total" in metrics and "fleet_cluster_info" in metrics
        assert httpx.get(f"{base}/openapi.json", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    # restart on the same state and finish the rollout
    proc = start(cfg, log)
    try:
        def done() -> bool:
            d = httpx.get(f"{base}/api/v1/rollouts", timeout=5).json()["rollouts"]
            return bool(d) and all(r["status"] == "done" for r in d)
        wait_for(done, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    world = json.loads((tmp_path / "sim-world.json").read_text())
    assert all(c["control_plane"] == "1.30.4" for c in world["clusters"])
    assert len(world["upgrade_log"]) == len({tuple(x) for x in world["upgrade_log"]}), "duplicate upgrade"
    text = log.read_text()
    assert "daemon stopped" in text
    assert TOKEN not in text
