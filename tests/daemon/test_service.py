"""Daemon.stop() while a tick is running: APScheduler's shutdown(wait=True) holds the scheduler's job-store lock
while it waits for the running job, and a tick ends by scheduling its wake-up (add_job, which takes that lock).
stop() must let the tick in progress finish before it shuts the scheduler down, or both wait for ever (the
intermittent `fleet demo` hang)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.base import BaseScheduler

from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.execution.engine import TickResult
from fleet.runtime import build_runtime
from tests.integration.fleetfiles import write_fleet

LOCK_WAIT_S = 5.0


class _TimedLock:
    """An RLock for the scheduler whose acquire gives up (and says so) instead of deadlocking the test run."""

    def __init__(self, timeouts: list[str]) -> None:
        self._lock = threading.RLock()
        self._timeouts = timeouts

    def __enter__(self) -> _TimedLock:
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            self._timeouts.append(threading.current_thread().name)
            raise TimeoutError("deadlock: a scheduler lock was held for good")
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_stop_while_a_tick_schedules_its_wake_up_does_not_deadlock(tmp_path, monkeypatch) -> None:
    timeouts: list[str] = []
    monkeypatch.setattr(BaseScheduler, "_create_lock", lambda self: _TimedLock(timeouts))
    shutting_down = threading.Event()
    original_shutdown = BasePoolExecutor.shutdown

    def shutdown(self: Any, wait: bool = True) -> None:
        shutting_down.set()                  # the scheduler holds its job-store lock from here on
        original_shutdown(self, wait)

    monkeypatch.setattr(BasePoolExecutor, "shutdown", shutdown)
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    daemon = Daemon(build_runtime(write_fleet(tmp_path, interval="1s"), clock), clock)
    in_tick = threading.Event()
    reconciles: list[int] = []

    def reconcile() -> TickResult:
        reconciles.append(1)
        if len(reconciles) == 1:
            in_tick.set()
            # stop() is under way; a fixed stop() waits for this tick, so the shutdown does not start meanwhile
            shutting_down.wait(timeout=1.5)
        now = clock.now()
        return TickResult(at=now, next_wake=now + timedelta(milliseconds=200))   # due before the next interval

    monkeypatch.setattr(daemon.engine, "reconcile", reconcile)
    daemon.start_scheduler()
    assert in_tick.wait(10), "the scheduler never ran a tick"
    stopper = threading.Thread(target=daemon.stop, name="stopper", daemon=True)
    stopper.start()
    stopper.join(30)
    assert not stopper.is_alive(), "Daemon.stop() did not return"
    assert timeouts == [], f"deadlock: {timeouts} waited on the scheduler's lock held by shutdown(wait=True)"
    assert daemon._ticks == 1 and len(reconciles) == 1, "the tick in progress finished; no tick ran after stop()"


def test_cluster_view_shows_the_membership_in_the_newest_run(tmp_path) -> None:
    """A cluster in two runs: the view shows the newer run, whatever order the store lists members in (the
    newer run's member sorts first here: a lower wave index)."""
    import json

    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    daemon = Daemon(build_runtime(write_fleet(tmp_path, n=1), clock), clock)
    engine, store = daemon.engine, daemon.store
    engine.last_plan = engine.compute_fleet_plan(engine.observer.observe_fleet(clock.now()), engine.current_policies())
    cid = engine.last_plan.clusters[0].id
    with store.write() as conn:
        for run_id, age, wave_index, status in (("old", timedelta(days=2), 1, "failed"), ("new", timedelta(0), 0, "active")):
            at = clock.now() - age
            store.insert_run(conn, id=run_id, policy="all", policy_snapshot={}, status="running", failures=0,
                             approved_waves=[], wave_done_at={}, created_at=at, updated_at=at)
            store.insert_run_clusters(conn, [{"run_id": run_id, "cluster_id": cid, "provider": "eks", "wave": "w",
                                              "wave_index": wave_index, "status": status, "message": run_id}])
    daemon._refresh_view()
    view = json.loads(daemon.cluster_view_json(status=None, provider=None, limit=10, offset=0))
    assert [c["rollout"] for c in view["clusters"]] == [{"run": "new", "status": "active", "message": "new"}]
    store.close()


def test_a_takeover_reopens_the_providers_on_the_configured_discovery_cadence(tmp_path) -> None:
    """After a takeover from another replica the first tick reopens the providers with a new observer: it keeps
    the configured discoveryInterval (before, the new observer discovered the whole fleet every tick)."""
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    cfg = write_fleet(tmp_path, n=1)
    cfg.write_text(cfg.read_text() + "  discoveryInterval: 15m\n")
    daemon = Daemon(build_runtime(cfg, clock), clock)
    try:
        before = daemon.engine.observer
        assert before.discovery_interval == timedelta(minutes=15)
        daemon._reopen_providers()
        assert daemon.engine.observer is not before
        assert daemon.engine.observer.discovery_interval == timedelta(minutes=15)
        assert daemon.engine.observer.offers_ttl == before.offers_ttl
    finally:
        daemon.store.close()
