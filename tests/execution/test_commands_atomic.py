"""Operator commands are atomic and idempotent (#22): each reads the state it changes inside its own write
transaction, so concurrent approvals of different waves of one run lose none; retrying a finished run with
nothing failed changes nothing (no second run-done)."""

from __future__ import annotations

import threading

from fleet.execution import journal
from fleet.execution.commands import approve_wave, retry_run
from fleet.execution.model import RunStatus
from fleet.state import open_store
from tests.execution.test_journal import NOW, plan

WAVES = [f"w{i}" for i in range(4)]
SNAPSHOT = {"spec": {"rollout": {"waves": [{"name": w, "approval": "required"} for w in WAVES]}}}


def test_concurrent_approvals_of_different_waves_lose_none(store_url):
    stores = [open_store(store_url) for _ in WAVES]      # one store each: like separate API/CLI processes
    for round_ in range(50):
        run_id = f"r{round_}"
        journal.mark_run_started(stores[0], NOW, "engine", run_id, "p", SNAPSHOT,
                                 [plan(f"c{i}", w, i) for i, w in enumerate(WAVES)], 0)
        barrier = threading.Barrier(len(WAVES))
        errors: list[BaseException] = []

        def approve(i: int, run_id: str = run_id, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait()
                approve_wave(stores[i], NOW, run_id, WAVES[i], f"op{i}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=approve, args=(i,)) for i in range(len(WAVES))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        run = stores[0].run(run_id)
        assert run is not None and sorted(run.approved_waves) == WAVES, (round_, run.approved_waves)
    for s in stores:
        s.close()


def test_retry_of_a_finished_run_with_nothing_failed_changes_nothing(state_url):
    store = open_store(state_url)
    journal.mark_run_started(store, NOW, "engine", "r1", "p", SNAPSHOT, [plan("a", "w0", 0)], 0)
    journal.mark_waves_done(store, NOW, "engine", store.run("r1"), {"w0": NOW.isoformat()}, ("w0",), RunStatus.DONE)
    before, events = store.run("r1"), store.last_event_id()
    assert retry_run(store, NOW, "r1", "op") == 0
    assert retry_run(store, NOW, "r1", "op") == 0
    assert store.run("r1") == before and store.last_event_id() == events
    assert len(store.events(kind="run-done")) == 1
