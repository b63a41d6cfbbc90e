"""Operator commands are atomic and idempotent (#22): each reads the state it changes inside its own write
transaction, so concurrent approvals of different waves of one run lose none; retrying a finished run with
nothing failed changes nothing (no second run-done)."""

from __future__ import annotations

import threading

from fleet.execution import journal
from fleet.execution.commands import approve_wave, retry_run, set_paused
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


def _halt(store, run_id: str) -> None:
    with store.write() as tx:
        store.update_run(tx, run_id, status=RunStatus.HALTED.value, failures=3)


def test_concurrent_pause_resume_and_approvals(store_url):
    """Pause, resume and two approvals at once, 50 rounds, one store (process) each: every command is one
    transaction with the state it changes - the switch ends as the last committed pause/resume says, the
    resume un-halts the halted run, no approval is lost."""
    stores = [open_store(store_url) for _ in range(4)]
    for round_ in range(50):
        run_id = f"r{round_}"
        journal.mark_run_started(stores[0], NOW, "engine", run_id, "p", SNAPSHOT,
                                 [plan(f"c{i}", w, i) for i, w in enumerate(WAVES)], 0)
        _halt(stores[0], run_id)
        first = stores[0].last_event_id() or 0
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []
        commands = [lambda s: set_paused(s, NOW, True, "op-pause"), lambda s: set_paused(s, NOW, False, "op-resume"),
                    lambda s, r=run_id: approve_wave(s, NOW, r, "w0", "op0"),
                    lambda s, r=run_id: approve_wave(s, NOW, r, "w1", "op1")]

        def issue(i: int, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait()
                commands[i](stores[i])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=issue, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        events = [e for e in stores[0].events(limit=100000) if e["id"] > first]
        switch = [e["kind"] for e in sorted(events, key=lambda e: e["id"]) if e["kind"] in ("paused", "resumed")]
        assert sorted(switch) == ["paused", "resumed"]
        run = stores[0].run(run_id)
        assert run is not None and sorted(run.approved_waves) == ["w0", "w1"], (round_, run.approved_waves)
        assert run.status is RunStatus.RUNNING and run.failures == 0, round_
        assert [e["run_id"] for e in events if e["kind"] == "run-resumed"] == [run_id]
        assert bool(stores[0].get_control("paused", False)) is (switch[-1] == "paused"), (round_, switch)
    for s in stores:
        s.close()


def test_resume_un_halts_in_the_same_transaction(tmp_path):
    """One commit for `fleet resume`: the switch, its event and every halted run back to running."""
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    for run_id in ("r1", "r2"):
        journal.mark_run_started(store, NOW, "engine", run_id, f"p-{run_id}", SNAPSHOT, [plan("a", "w0", 0)], 0)
        _halt(store, run_id)
    commits: list[str] = []
    store.after_commit = commits.append
    set_paused(store, NOW, False, "op")
    assert commits == ["resume"]
    assert [r.status for r in store.runs()] == [RunStatus.RUNNING, RunStatus.RUNNING]
    store.close()
