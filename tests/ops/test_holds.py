"""Holds (issue #23): a held cluster gets no new step and a held run starts none, each with its reason and the
principal in the audit log, while the rest of the fleet goes on; releasing lets them go on. Holding and
releasing are atomic between concurrent holders (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.errors import NotFoundError
from fleet.execution.holds import read_holds, release_hold, set_hold
from fleet.runtime import build_runtime
from fleet.state.memory import MemoryStore
from fleet.state.store import SqlStore
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


N_HOLDERS = 8


def _at_once(n: int, fn) -> list:  # noqa: ANN001
    """Run fn(i) on n threads released together; their results (re-raising the first failure)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def one(i: int) -> None:
        barrier.wait(10)
        try:
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def test_concurrent_holders_and_releasers_are_atomic(store_url: str):
    """Each holder has its own store handle (its own connections, like separate processes): holds of different
    clusters set at the same instant are all kept, and of concurrent releasers of one hold exactly one
    releases it and writes the event. On SQLite and PostgreSQL."""
    SqlStore(store_url).close()                       # migrate once
    stores = [SqlStore(store_url, migrate=False) for _ in range(N_HOLDERS)]
    try:
        _at_once(N_HOLDERS, lambda i: set_hold(stores[i], START, "cluster", f"eks/lab/c{i}", f"reason {i}",
                                               f"token:u{i}"))
        held = read_holds(stores[0]).clusters
        assert sorted(held) == sorted(f"eks/lab/c{i}" for i in range(N_HOLDERS))
        assert {held[f"eks/lab/c{i}"]["by"] for i in range(N_HOLDERS)} == {f"token:u{i}" for i in range(N_HOLDERS)}
        assert len(stores[0].events(kind="held", limit=100)) == N_HOLDERS

        long_id = "gke/europe-west1/" + "x" * 480                 # longer than a control key: hashed
        set_hold(stores[0], START, "cluster", long_id, "shared", "token:u0")
        done = _at_once(N_HOLDERS, lambda i: release_hold(stores[i], START, "cluster", long_id, f"token:u{i}"))
        assert sorted(done) == [False] * (N_HOLDERS - 1) + [True]
        assert len(stores[0].events(kind="released", cluster_id=long_id, limit=100)) == 1
        assert long_id not in read_holds(stores[0]).clusters

        # holds and releases of different clusters at once: the releases remove only their own
        _at_once(N_HOLDERS, lambda i: release_hold(stores[i], START, "cluster", f"eks/lab/c{i}", f"token:u{i}")
                 if i % 2 else set_hold(stores[i], START, "cluster", f"eks/lab/c{i}", "again", f"token:u{i}"))
        assert sorted(read_holds(stores[0]).clusters) == sorted(f"eks/lab/c{i}" for i in range(0, N_HOLDERS, 2))
    finally:
        for s in stores:
            s.close()


def test_memory_store_holds_release_once():
    store = MemoryStore()
    set_hold(store, START, "cluster", "sim/a", "why", "token:a")
    set_hold(store, START, "cluster", "sim/b", "why", "token:a")
    assert release_hold(store, START, "cluster", "sim/a", "token:b") is True
    assert release_hold(store, START, "cluster", "sim/a", "token:b") is False
    assert list(read_holds(store).clusters) == ["sim/b"]


def test_holds_written_in_the_old_single_value_are_read_and_released(store_url: str):
    store = SqlStore(store_url)
    try:
        with store.write() as conn:
            store.set_control(conn, "holds", {"runs": {}, "clusters": {"sim/old": {"reason": "r", "by": "x", "at": ""}}})
        set_hold(store, START, "cluster", "sim/new", "why", "token:a")
        assert sorted(read_holds(store).clusters) == ["sim/new", "sim/old"]
        assert release_hold(store, START, "cluster", "sim/old", "token:a") is True
        assert release_hold(store, START, "cluster", "sim/old", "token:a") is False
        assert sorted(read_holds(store).clusters) == ["sim/new"]
    finally:
        store.close()
