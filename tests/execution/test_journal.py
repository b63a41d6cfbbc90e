"""fleet.execution.journal and fleet.execution.commands on every store: each mark_* is one transaction that
writes its rows and exactly its events; operator commands refuse unknown runs and waves with NotFoundError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.errors import NotFoundError
from fleet.execution import journal
from fleet.execution import step_machine as sm
from fleet.execution.commands import approve_wave, resume_runs, retry_run, set_paused
from fleet.execution.model import MemberStatus, RunStatus, StepState
from fleet.planning.plan import ClusterPlan
from fleet.provider import Component, OperationRef, Step
from fleet.state import open_store

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
STEP = Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.28.3")
SNAPSHOT = {"spec": {"rollout": {"waves": [{"name": "canary"}, {"name": "main", "approval": "required"}]}}}


def plan(cid: str, wave: str, idx: int) -> ClusterPlan:
    return ClusterPlan(cid, "sim", "sim", cid, "lab", {}, "p", "needs-upgrade", "1.28.3", {}, target="1.29.8",
                       wave=wave, wave_index=idx)


@pytest.fixture
def store(state_url):
    s = open_store(state_url)
    commits: list[str] = []
    s.after_commit = commits.append
    s.commits = commits
    journal.mark_run_started(s, NOW, "engine", "r1", "p", SNAPSHOT, [plan("a", "canary", 0), plan("b", "main", 1)], 0)
    yield s
    s.close()


def kinds(store, after: int = 0) -> list[tuple[str, str | None, str]]:
    return [(e["kind"], e["cluster_id"], e["message"]) for e in store.events(after_id=after, limit=1000)]


def test_a_step_from_intent_to_success(store):
    a = store.members("r1")[0]
    rec = journal.mark_step_intent(store, NOW, "engine", 7, a, STEP, True)
    assert store.members("r1")[0].status is MemberStatus.ACTIVE
    journal.mark_step_running(store, NOW, "engine", 7, rec, sm.Started(OperationRef("op", "a", STEP.key),
                                                                       NOW + timedelta(seconds=30), 1, 1))
    running = store.steps(open_only=True)[0]
    assert (running.state, running.operation_id, running.attempts, running.epoch) == (StepState.RUNNING, "op", 1, 7)
    journal.mark_step_polled(store, running, sm.Wait(NOW, "50%", provider_calls=2, polls=1))
    journal.mark_step_verifying(store, running, sm.Verify(NOW, 2, 3))
    verifying = store.steps(open_only=True)[0]
    assert (verifying.state, verifying.polls, verifying.provider_calls, verifying.message) == \
        (StepState.VERIFYING, 2, 3, "verifying")
    journal.mark_step_succeeded(store, NOW, "engine", verifying, "1.29.8")
    assert store.steps(open_only=True) == []
    assert kinds(store) == [("run-started", None, "policy p: 2 clusters"), ("cluster-started", "a", ""),
                            ("step-intent", "a", ""), ("step-dispatched", "a", ""), ("step-succeeded", "a", "")]
    data = [e["data"] for e in store.events(limit=100)]
    assert data[2] == {"from": "1.28.3", "to": "1.29.8", "minor": True, "maxSurge": None, "maxUnavailable": None}
    assert data[3] == {"to": "1.29.8", "minor": True, "epoch": 7}
    assert data[4] == {"version": "1.29.8", "calls": 3}
    assert store.commits == ["start run", "step intent", "step dispatched", "step update", "step update",
                             "step succeeded"]


@pytest.mark.parametrize(("max_failures", "halted"), [(1, True), (2, False)])
def test_a_failed_step_fails_its_member_and_may_halt_the_run(store, max_failures, halted):
    rec = journal.mark_step_intent(store, NOW, "engine", 0, store.members("r1")[0], STEP, False)
    run = journal.mark_step_failed(store, NOW, "engine", store.run("r1"), rec, sm.Failed("start failed: x", 1),
                                   max_failures)
    assert run == store.run("r1")
    assert (run.failures, run.status) == (1, RunStatus.HALTED if halted else RunStatus.RUNNING)
    assert store.members("r1")[0].status is MemberStatus.FAILED
    want = [("step-failed", "a", "start failed: x"), ("cluster-failed", "a", "start failed: x")]
    if halted:
        want.append(("run-halted", None, "1 failures reached maxFailures=1"))
    assert kinds(store, after=3) == want
    assert store.commits[-1] == "step failed"


@pytest.mark.parametrize(("status", "kind"), [(MemberStatus.DONE, "cluster-upgraded"),
                                               (MemberStatus.BLOCKED, "cluster-blocked"),
                                               (MemberStatus.FAILED, "cluster-failed")])
def test_member_finished(store, status, kind):
    m = journal.mark_member_finished(store, NOW, "engine", store.members("r1")[0], status, "why")
    assert m == store.members("r1")[0]
    assert kinds(store, after=1) == [(kind, "a", "why")]


def test_waves_done_and_run_finished_in_one_transaction(store):
    run = journal.mark_waves_done(store, NOW, "engine", store.run("r1"), {"canary": "t0", "main": "t1"},
                                  ("canary", "main"), RunStatus.DONE)
    assert run == store.run("r1")
    assert (run.status, dict(run.wave_done_at)) == (RunStatus.DONE, {"canary": "t0", "main": "t1"})
    assert kinds(store, after=1) == [("wave-done", None, "wave canary complete"),
                                     ("wave-done", None, "wave main complete"), ("run-done", None, "run finished: done")]
    assert store.commits[-1] == "wave done" and len(store.commits) == 2


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: approve_wave(s, NOW, "nope", "main", "t"), "no run nope"),
    (lambda s: approve_wave(s, NOW, "r1", "late", "t"), "run r1 has no wave 'late' (waves: canary, main)"),
    (lambda s: retry_run(s, NOW, "nope", "t"), "no run nope"),
])
def test_commands_refuse_what_does_not_exist(store, call, message):
    with pytest.raises(NotFoundError) as err:
        call(store)
    assert err.value.args[0] == message
    assert kinds(store, after=1) == []


def test_commands(store):
    approve_wave(store, NOW, "r1", "main", "op")
    approve_wave(store, NOW, "r1", "main", "op")          # idempotent: listed once
    assert store.run("r1").approved_waves == ("main",)
    rec = journal.mark_step_intent(store, NOW, "engine", 0, store.members("r1")[0], STEP, False)
    journal.mark_step_failed(store, NOW, "engine", store.run("r1"), rec, sm.Failed("x", 0), 1)
    journal.mark_waves_done(store, NOW, "engine", store.run("r1"), {"canary": "t0"}, ("canary",), None)
    assert resume_runs(store, NOW, "op", run_id="other") == 0
    set_paused(store, NOW, True, "op")
    set_paused(store, NOW, False, "op")                   # resuming un-halts
    assert store.run("r1").status is RunStatus.RUNNING and store.run("r1").failures == 0
    assert retry_run(store, NOW, "r1", "op") == 1
    assert store.members("r1")[0].status is MemberStatus.PENDING and store.run("r1").wave_done_at == {}
    tail = [(e["kind"], e["actor"], e["message"]) for e in store.events(limit=100)][-5:]
    assert tail == [("wave-done", "engine", "wave canary complete"), ("paused", "op", ""), ("resumed", "op", ""),
                    ("run-resumed", "op", ""), ("run-retried", "op", "1 failed clusters re-queued")]
