"""Holds (issue #23): a held cluster gets no new step and a held run starts none, each with its reason and the
principal in the audit log, while the rest of the fleet goes on; releasing lets them go on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.errors import NotFoundError
from fleet.runtime import build_runtime
from tests.execution.helpers import START
from tests.integration.fleetfiles import write_fleet


def _dispatched(daemon: Daemon) -> set[str]:
    return {e["cluster_id"] for e in daemon.store.events(kind="step-dispatched", limit=100000)}


def test_a_held_cluster_waits_and_the_others_go_on(tmp_path: Path):
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(write_fleet(tmp_path, n=3, concurrency=3), clock), clock)
    try:
        ids = sorted(c.id for c in daemon.engine.observer.observe_fleet(clock.now()).clusters.values())
        held = ids[1]
        daemon.hold("cluster", held, "customer demo until Friday", "token:alice")
        for _ in range(3):
            daemon.tick()
            clock.advance(timedelta(seconds=1))
        assert held not in _dispatched(daemon) and set(ids) - {held} <= _dispatched(daemon)
        assert daemon.holds()["clusters"][held]["reason"] == "customer demo until Friday"
        ev = daemon.store.events(kind="held", limit=10)[-1]
        assert (ev["actor"], ev["cluster_id"], ev["message"]) == ("token:alice", held, "customer demo until Friday")
        assert daemon.release("cluster", held, "token:bob") is True
        assert daemon.release("cluster", held, "token:bob") is False      # nothing held: nothing written
        daemon.tick()
        assert held in _dispatched(daemon)
        assert [e["actor"] for e in daemon.store.events(kind="released", limit=10)] == ["token:bob"]
    finally:
        daemon.stop()


def test_a_held_run_starts_no_step_until_released(tmp_path: Path):
    clock = FakeClock(START)
    daemon = Daemon(build_runtime(write_fleet(tmp_path, n=2, concurrency=1), clock), clock)
    try:
        daemon.tick()                                      # the run starts and dispatches its first cluster
        [run] = daemon.store.runs()
        before = len(daemon.store.events(kind="step-dispatched", limit=100000))
        daemon.hold("run", run.id, "incident INC-42", "oidc:carol@example.com")
        for _ in range(20):
            clock.advance(timedelta(seconds=5))
            daemon.tick()
        # in-flight steps finish; no new one starts
        assert len(daemon.store.events(kind="step-dispatched", limit=100000)) == before
        daemon.release("run", run.id, "oidc:carol@example.com")
        for _ in range(5):
            clock.advance(timedelta(seconds=5))
            daemon.tick()
        assert len(daemon.store.events(kind="step-dispatched", limit=100000)) > before
        with pytest.raises(NotFoundError):
            daemon.hold("run", "no-such-run", "x", "token:alice")
    finally:
        daemon.stop()
