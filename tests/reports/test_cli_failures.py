"""Failure modes that must never be silent: unread providers, an unknown cluster's history, failed clusters
after their run ended, a wave waiting for approval (an event and a webhook), approving a wave that needs none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from fleet.state import schema as S
from fleet.state.store import SqlStore
from tests.integration.fleetfiles import write_fleet

from .conftest import AT, run_fleet

T0 = datetime(2026, 8, 1, tzinfo=UTC)
APPROVAL_POLICY = """apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: all
spec:
  target:
    version: "1.30"
  rollout:
    maxConcurrentClusters: 2
    waves:
      - name: main
        approval: required
"""


def _store_with(cfg: Path, runs: list[tuple[str, str, dict]], members: list[tuple[str, str, str, str]]) -> None:
    store = SqlStore(f"sqlite:///{cfg.parent / 'state' / 'fleet.db'}")
    with store.write() as conn:
        for i, (run, status, snapshot) in enumerate(runs):
            conn.execute(insert(S.runs).values(id=run, policy="all", policy_snapshot=snapshot, status=status,
                                               failures=0, approved_waves=[], wave_done_at={},
                                               created_at=T0 + timedelta(days=i), updated_at=T0))
        conn.execute(insert(S.run_clusters), [dict(run_id=r, cluster_id=c, provider="sim", wave=w, wave_index=0,
                                                   status=st, message="boom" if st == "failed" else "")
                                              for r, c, w, st in members])
    store.close()


def test_plan_names_each_unread_provider_and_fails(tmp_path):
    cfg = write_fleet(tmp_path, n=2)
    cfg.write_text(cfg.read_text().replace("        nodePoolDuration: 1s\n",
                                           "        nodePoolDuration: 1s\n        faults: {apiErrorRate: 1.0}\n"))
    r = run_fleet("plan", "--config", str(cfg), "--at", AT)
    assert r.returncode == 1, r.stdout
    assert "error: provider sim could not be read: simulated API error in discover" in r.stderr
    assert "discovery failed" not in r.stderr          # the bare log line is not what the user sees


def test_report_names_each_unread_provider_and_fails(tmp_path):
    cfg = write_fleet(tmp_path, n=2)
    cfg.write_text(cfg.read_text().replace("        nodePoolDuration: 1s\n",
                                           "        nodePoolDuration: 1s\n        faults: {apiErrorRate: 1.0}\n"))
    out = tmp_path / "report.json"
    r = run_fleet("report", "--config", str(cfg), "--at", AT, "--no-forecast", "-o", "json", "--out-file", str(out))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "error: provider sim could not be read: simulated API error in discover" in r.stderr
    assert "the report leaves their clusters out" in r.stderr
    assert "discovery failed" not in r.stderr          # the bare log line is not what the user sees
    assert any("provider sim could not be read" in n for n in json.loads(out.read_text())["notes"])
    table = run_fleet("report", "--config", str(cfg), "--at", AT, "--no-forecast")
    assert table.returncode == 1 and "provider sim could not be read" in table.stderr, table.stderr
    healthy = write_fleet(tmp_path / "ok", n=2)           # the same fleet, readable: exit 0, nothing on stderr
    ok = run_fleet("report", "--config", str(healthy), "--at", AT, "--no-forecast", "-o", "json")
    assert ok.returncode == 0 and "could not be read" not in ok.stderr, ok.stderr


def test_history_of_an_unknown_cluster_is_an_error(tmp_path):
    cfg = write_fleet(tmp_path, n=1)
    _store_with(cfg, [("r1", "done", {})], [("r1", "eks/lab/c0", "default", "done")])
    r = run_fleet("history", "does/not/exist", "--config", str(cfg))
    assert r.returncode == 2 and "no history for cluster 'does/not/exist'" in r.stderr, r.stderr


def test_failed_clusters_stay_in_status_after_their_run_ends(tmp_path):
    cfg = write_fleet(tmp_path, n=3)
    _store_with(cfg, [("old", "failed", {}), ("new", "done", {})],
                [("old", "eks/lab/c0", "default", "failed"), ("old", "eks/lab/c1", "failed", "failed"),
                 ("new", "eks/lab/c1", "default", "done"), ("old", "eks/lab/c2", "default", "done")])
    r = run_fleet("status", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if "eks/lab/" in line]
    assert len(rows) == 1 and "eks/lab/c0" in rows[0] and "failed" in rows[0] and "boom" in rows[0], r.stdout
    # c1 failed in "old" but "new" took it (done): no longer listed; c2 is done


def test_approving_a_wave_that_needs_no_approval_says_so(tmp_path):
    cfg = write_fleet(tmp_path, n=1)
    snap = {"spec": {"rollout": {"waves": [{"name": "canary", "approval": "none"}, {"name": "main", "approval": "required"}]}}}
    _store_with(cfg, [("r1", "running", snap)], [("r1", "eks/lab/c0", "canary", "pending")])
    r = run_fleet("approve", "r1", "canary", "--config", str(cfg))
    assert r.returncode == 2 and "needs no approval" in r.stderr and "approved" not in r.stdout, (r.stdout, r.stderr)
    r = run_fleet("approve", "r1", "main", "--config", str(cfg))
    assert r.returncode == 0 and "approved wave main of run r1" in r.stdout, r.stderr


def test_a_wave_waiting_for_approval_is_announced_once(tmp_path):
    cfg = write_fleet(tmp_path, n=2)
    (tmp_path / "policies" / "all.yaml").write_text(APPROVAL_POLICY)
    clock = FakeClock(datetime(2026, 1, 5, 10, tzinfo=UTC))
    daemon = Daemon(build_runtime(cfg, clock), clock)
    try:
        for _ in range(3):
            daemon.tick()
            clock.advance(timedelta(minutes=1))
        events = daemon.store.events(kind="wave-awaiting-approval")
        assert len(events) == 1, events
        run = events[0]["run_id"]
        assert events[0]["message"] == f"wave main waits for approval: fleet approve {run} main"
        assert events[0]["data"] == {"wave": "main", "policy": "all"}
        assert all(m.status.value == "pending" for m in daemon.store.members(run))
        r = run_fleet("history", "eks/lab/c0", "--config", str(cfg), "--format", "json")
        assert r.returncode == 0 and json.loads(r.stdout) == []  # a member of a run: known, no event of its own yet
        daemon.approve(run, "main", "test")
        daemon.tick()
        assert any(m.status.value == "active" for m in daemon.store.members(run))
        assert len(daemon.store.events(kind="wave-awaiting-approval")) == 1
    finally:
        daemon.stop()
