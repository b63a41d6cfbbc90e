"""The daemon announces clusters entering the risk list (``cluster-at-risk``) to a real webhook receiver:
once per cluster, however many ticks see it at risk and whatever its reason becomes."""

from __future__ import annotations

from datetime import timedelta

from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.notify.risk import RISK_LIST_KEY
from fleet.runtime import build_runtime
from tests.notify.conftest import SECRET, START, wait_cursor, write_fleet_with_hook
from tests.notify.receiver import Receiver, verify


def test_daemon_announces_each_cluster_entering_the_risk_list_once(tmp_path):
    # START is 2026-01-05: EKS 1.28 left standard support on 2024-11-26 and 1.30 (the target) on 2025-07-23,
    # so both clusters are at risk before, during and after their upgrade (the reason changes, not the list)
    with Receiver() as rx:
        cfg = write_fleet_with_hook(tmp_path, rx.url, extra="      events: [cluster-at-risk]\n", n=2, concurrency=2)
        clock = FakeClock(START)
        daemon = Daemon(build_runtime(cfg, clock), clock)
        assert daemon.notifier is not None
        daemon.notifier.poll_interval = 0.05
        daemon.notifier.start()
        store = daemon.store
        try:
            for _ in range(200):
                daemon.tick()
                if store.runs() and not store.runs(active_only=True):
                    break
                clock.advance(timedelta(seconds=1))
            rx.wait_until(lambda r: len(r.requests) >= 2)
            for _ in range(3):                      # more ticks with the same list announce nothing more
                clock.advance(timedelta(seconds=1))
                daemon.tick()
            wait_cursor(store, "hook", store.last_event_id())
            assert store.get_control(RISK_LIST_KEY) == ["eks/lab/c0", "eks/lab/c1"]
            events = store.events(kind="cluster-at-risk")
        finally:
            daemon.stop()
    assert sorted(e["cluster_id"] for e in events) == ["eks/lab/c0", "eks/lab/c1"]
    bodies = [r.json() for r in rx.requests]
    assert sorted(b["cluster"] for b in bodies) == ["eks/lab/c0", "eks/lab/c1"]
    for r, b in zip(rx.requests, bodies, strict=True):
        assert r.headers["x-fleet-event"] == "cluster-at-risk" and verify(SECRET, r.headers, r.body)
        assert b["kind"] == "cluster-at-risk" and b["actor"] == "reports"
        assert b["message"] == "past-end-of-standard-support: control plane 1.28.3, end of standard support 2024-11-26"
        assert b["summary"].startswith(f"Cluster {b['cluster']} entered the risk list")
