"""`fleet daemon` (the installed command, a real process) on the sim fleet sends signed webhooks."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

from tests.notify.conftest import SECRET, write_fleet_with_hook
from tests.notify.receiver import Receiver, verify

FLEET = shutil.which("fleet") or "fleet"


def test_fleet_daemon_posts_signed_run_started_and_cluster_upgraded(tmp_path):
    with Receiver() as rx:
        cfg = write_fleet_with_hook(tmp_path, rx.url, n=2, concurrency=2, cp="1s", pool="1s", interval="1s")
        inv = tmp_path / "inventory.yaml"   # one minor behind: two steps per cluster keep the test short
        inv.write_text(inv.read_text().replace('controlPlane: "1.28.3"', 'controlPlane: "1.29.8"')
                       .replace('version: "1.28.3"', 'version: "1.29.8"'))
        log = tmp_path / "daemon.log"
        proc = subprocess.Popen([FLEET, "daemon", "--config", str(cfg), "--log-format", "json"],
                                stdout=log.open("ab"), stderr=subprocess.STDOUT)
        try:
            rx.wait_until(lambda r: sum(x.headers["x-fleet-event"] == "cluster-upgraded" for x in r.requests) == 2
                          and any(x.headers["x-fleet-event"] == "run-done" for x in r.requests))
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    kinds = [r.headers["x-fleet-event"] for r in rx.requests]
    assert kinds[0] == "run-started" and kinds.count("run-started") == 1
    assert kinds.count("cluster-upgraded") == 2 and kinds[-1] == "run-done"
    # the sim clusters' EKS minors (1.29, then 1.30) are past standard support: both are on the risk list
    assert kinds.count("cluster-at-risk") == 2
    assert set(kinds) <= {"run-started", "wave-done", "cluster-upgraded", "run-done", "cluster-at-risk"}
    now = time.time()
    for r in rx.requests:
        assert verify(SECRET, r.headers, r.body)
        assert abs(now - int(r.headers["x-fleet-timestamp"])) < 300   # wall-clock timestamps in the daemon
        body = r.json()
        assert body["kind"] == r.headers["x-fleet-event"] and body["fleet"] == "test"
    upgraded = sorted(r.json()["cluster"] for r in rx.requests if r.json()["kind"] == "cluster-upgraded")
    assert upgraded == ["eks/lab/c0", "eks/lab/c1"]
    ids = [r.json()["id"] for r in rx.requests]
    assert ids == sorted(set(ids))                                     # in order, none twice
    text = log.read_text()
    assert "notifier started" in text and "daemon stopped" in text and SECRET not in text
