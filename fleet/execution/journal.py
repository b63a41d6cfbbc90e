"""The journal: the only writer of run, member, step and event rows (and the pause switch).

Each ``mark_*`` function is one ``store.write()`` transaction: the rows it changes and the event(s) that
tell the audit log (and, through it, the webhooks) what happened. Nothing here decides anything: the engine,
the gates and the step machine decide; this records. Free text that may come from a provider (messages,
reasons) is made printable first (fleet.execution.storable.printable: no NUL reaches the store). Event kinds,
messages and data are a public interface (`fleet history`, webhook payloads) and must not change casually.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleet.execution.model import (
    Member,
    MemberStatus,
    Run,
    RunStatus,
    StepRecord,
    StepState,
    op_to_json,
    step_to_json,
)
from fleet.execution.step_machine import Failed, Retry, Started, Verify, Wait
from fleet.execution.storable import printable
from fleet.gates import journal as gate_journal
from fleet.planning.plan import ClusterPlan
from fleet.provider import OperationRef, Step
from fleet.state.base import Store

log = logging.getLogger("fleet.engine")

FINISHED_EVENT = {MemberStatus.DONE: "cluster-upgraded", MemberStatus.BLOCKED: "cluster-blocked"}


# ---- runs ---------------------------------------------------------------------------------------------
def mark_run_started(store: Store, now: datetime, actor: str, run_id: str, policy: str,
                     snapshot: Mapping[str, Any], members: Sequence[ClusterPlan], shard: int) -> None:
    with store.write("start run") as conn:
        store.insert_run(conn, id=run_id, policy=policy, policy_snapshot=snapshot, status=RunStatus.RUNNING.value,
                         failures=0, approved_waves=[], wave_done_at={}, created_at=now, updated_at=now, shard=shard)
        store.insert_run_clusters(conn, [
            {"run_id": run_id, "cluster_id": c.id, "provider": c.provider, "wave": c.wave or "default",
             "wave_index": c.wave_index, "status": MemberStatus.PENDING.value, "message": "", "target": c.target}
            for c in members])
        store.add_event(conn, now, "run-started", actor=actor, run_id=run_id,
                        message=f"policy {policy}: {len(members)} clusters", data={"clusters": [c.id for c in members]})
    log.info("run started", extra={"run": run_id, "policy": policy, "clusters": len(members)})


def mark_waves_done(store: Store, now: datetime, actor: str, run: Run, wave_done_at: Mapping[str, str],
                    newly_done: Sequence[str], finished: RunStatus | None) -> Run:
    """Waves that completed, and the run's end when ``finished`` (done or failed): one transaction."""
    with store.write("wave done") as conn:
        values: dict[str, Any] = {"wave_done_at": dict(wave_done_at), "updated_at": now}
        if finished is not None:
            values["status"] = finished.value
        store.update_run(conn, run.id, **values)
        for name in newly_done:
            store.add_event(conn, now, "wave-done", actor=actor, run_id=run.id, message=f"wave {name} complete")
        if finished is not None:
            store.add_event(conn, now, "run-done", actor=actor, run_id=run.id, message=f"run finished: {finished}")
    return replace(run, wave_done_at=dict(wave_done_at), status=finished or run.status, updated_at=now)


def _lock_run(store: Store, conn: Any, run_id: str) -> None:
    """Take the run's row for this transaction before reading it (a no-op update: SQLite's write lock, a
    PostgreSQL row lock), so that a command's read and its write are one atomic step: no lost update."""
    store.update_run(conn, run_id, id=run_id)


def mark_run_resumed(store: Store, now: datetime, actor: str, run_id: str) -> bool:
    """Un-halt the run if it is still halted as read in this transaction (never reopens a finished run)."""
    with store.write("resume run") as conn:
        _lock_run(store, conn, run_id)
        run = store.run(run_id)
        if run is None or run.status is not RunStatus.HALTED:
            return False
        store.update_run(conn, run_id, status=RunStatus.RUNNING.value, failures=0, updated_at=now)
        store.add_event(conn, now, "run-resumed", actor=actor, run_id=run_id)
    return True


def mark_wave_approved(store: Store, now: datetime, actor: str, run_id: str, wave: str,
                       check: Callable[[Run | None], None]) -> None:
    """Add ``wave`` to the run's approved waves, reading them in the same transaction (``check`` validates
    the run as read there and raises to refuse: nothing is written)."""
    with store.write("approve") as conn:
        _lock_run(store, conn, run_id)
        run = store.run(run_id)
        check(run)
        assert run is not None, "check refuses a missing run"
        approved = list(run.approved_waves) + ([] if wave in run.approved_waves else [wave])
        store.update_run(conn, run_id, approved_waves=approved, updated_at=now)
        store.add_event(conn, now, "wave-approved", actor=actor, run_id=run_id, message=f"wave {wave} approved")


def mark_run_retried(store: Store, now: datetime, actor: str, run_id: str,
                     check: Callable[[Run | None], None]) -> int:
    """Failed members back to pending, the run running again with its failure count reset; members and run
    read in the same transaction. A run with no failed member is left as it is (retry is idempotent)."""
    with store.write("retry") as conn:
        _lock_run(store, conn, run_id)
        run = store.run(run_id)
        check(run)
        assert run is not None, "check refuses a missing run"
        failed = [m for m in store.members(run_id) if m.status is MemberStatus.FAILED]
        if not failed:
            return 0
        waves = {m.wave for m in failed}
        for m in failed:
            store.update_run_cluster(conn, run_id, m.cluster_id, status=MemberStatus.PENDING.value,
                                     message="retried", finished_at=None)
        store.update_run(conn, run_id, status=RunStatus.RUNNING.value, failures=0, updated_at=now,
                         wave_done_at={k: v for k, v in run.wave_done_at.items() if k not in waves})
        store.add_event(conn, now, "run-retried", actor=actor, run_id=run_id,
                        message=f"{len(failed)} failed clusters re-queued",
                        data={"clusters": [m.cluster_id for m in failed]})
    return len(failed)


def mark_paused(store: Store, now: datetime, actor: str, paused: bool) -> int:
    """Set the pause switch. Resuming also un-halts every halted run (failures back to 0) in the same
    transaction: the active runs are taken first, so an engine halting one concurrently is either seen halted
    here or halts it after this resume. Returns the runs un-halted."""
    n = 0
    with store.write("pause" if paused else "resume") as conn:
        store.set_control(conn, "paused", paused)
        store.add_event(conn, now, "paused" if paused else "resumed", actor=actor)
        if not paused:
            for r in store.runs(active_only=True):
                _lock_run(store, conn, r.id)
            for r in store.runs(active_only=True):
                if r.status is RunStatus.HALTED:
                    store.update_run(conn, r.id, status=RunStatus.RUNNING.value, failures=0, updated_at=now)
                    store.add_event(conn, now, "run-resumed", actor=actor, run_id=r.id)
                    n += 1
    return n


# ---- members ------------------------------------------------------------------------------------------
def mark_member_finished(store: Store, now: datetime, actor: str, member: Member, status: MemberStatus,
                         message: str) -> Member:
    message = printable(message)
    with store.write("cluster finished") as conn:
        store.update_run_cluster(conn, member.run_id, member.cluster_id, status=status.value, message=message,
                                 finished_at=now)
        store.add_event(conn, now, FINISHED_EVENT.get(status, "cluster-failed"), actor=actor, run_id=member.run_id,
                        cluster_id=member.cluster_id, message=message)
    return replace(member, status=status, message=message, finished_at=now)


# ---- steps --------------------------------------------------------------------------------------------
def mark_step_intent(store: Store, now: datetime, actor: str, epoch: int, member: Member, step: Step,
                     minor: bool) -> StepRecord:
    """Journal a step before provider.start is called (and start the member if it was pending)."""
    run_id, cid = member.run_id, member.cluster_id
    with store.write("step intent") as conn:
        step_id = store.insert_step(
            conn, run_id=run_id, cluster_id=cid, step_key=step.key, component=step.component.value,
            pool=step.pool, from_version=step.from_, to_version=step.to, minor=int(minor),
            spec=step_to_json(step), state=StepState.INTENT.value, attempts=0, polls=0, provider_calls=0,
            message="", epoch=epoch, created_at=now)
        if member.status is MemberStatus.PENDING:
            store.update_run_cluster(conn, run_id, cid, status=MemberStatus.ACTIVE.value, started_at=now)
            store.add_event(conn, now, "cluster-started", actor=actor, run_id=run_id, cluster_id=cid)
        store.add_event(conn, now, "step-intent", actor=actor, run_id=run_id, cluster_id=cid, step_key=step.key,
                        data={"from": step.from_, "to": step.to, "minor": minor, "maxSurge": step.max_surge,
                              "maxUnavailable": step.max_unavailable})
    return StepRecord(id=step_id, run_id=run_id, cluster_id=cid, step=step, minor=minor, state=StepState.INTENT,
                      operation=None, attempts=0, polls=0, provider_calls=0, next_action_at=None, message="",
                      epoch=epoch, created_at=now)


def mark_step_retry(store: Store, now: datetime, actor: str, step: StepRecord, t: Retry) -> None:
    """provider.start refused for now (a step-retry event)."""
    message = printable(t.message)
    with store.write("step retry") as conn:
        store.update_step(conn, step.id, attempts=t.attempts, provider_calls=t.provider_calls,
                          next_action_at=t.next_action_at, message=message)
        store.add_event(conn, now, "step-retry", actor=actor, run_id=step.run_id, cluster_id=step.cluster_id,
                        step_key=step.key, message=message)


def mark_step_deferred(store: Store, step: StepRecord, next_action_at: datetime | None, why: str) -> None:
    """The step may not start now after all (its window closed or the fleet was paused during the tick): it
    stays ``intent``, to be started at ``next_action_at`` (None: whenever a tick finds it may). No event."""
    with store.write("step update") as conn:
        store.update_step(conn, step.id, next_action_at=next_action_at, message=f"not started: {why}")


def mark_step_running(store: Store, now: datetime, actor: str, epoch: int, step: StepRecord, t: Started) -> None:
    op = t.operation
    with store.write("step dispatched") as conn:
        store.update_step(conn, step.id, state=StepState.RUNNING.value, operation_id=op.id,
                          operation_data=op_to_json(op), started_at=now, attempts=t.attempts,
                          provider_calls=t.provider_calls, next_action_at=t.next_action_at, message="")
        store.add_event(conn, now, "step-dispatched", actor=actor, run_id=step.run_id, cluster_id=step.cluster_id,
                        step_key=step.key, operation_id=op.id,
                        data={"to": step.step.to, "minor": step.minor, "epoch": epoch})
    log.info("step dispatched", extra={"run": step.run_id, "cluster": step.cluster_id, "step": step.key,
                                       "operation": op.id})


def mark_step_polled(store: Store, step: StepRecord, t: Wait) -> None:
    """Look again later (no event): the operation runs on, a poll failed for now, or verify found no match yet."""
    values: dict[str, Any] = {"next_action_at": t.next_action_at, "message": printable(t.message)}
    for name in ("provider_calls", "polls", "attempts"):
        if getattr(t, name) is not None:
            values[name] = getattr(t, name)
    with store.write("step update") as conn:
        store.update_step(conn, step.id, **values)


def mark_step_verifying(store: Store, step: StepRecord, t: Verify) -> None:
    with store.write("step update") as conn:
        store.update_step(conn, step.id, state=StepState.VERIFYING.value, polls=t.polls,
                          provider_calls=t.provider_calls, next_action_at=t.next_action_at, message="verifying")


def mark_step_succeeded(store: Store, now: datetime, actor: str, step: StepRecord, version: str) -> None:
    with store.write("step succeeded") as conn:
        store.update_step(conn, step.id, state=StepState.SUCCEEDED.value, finished_at=now, next_action_at=None,
                          message="verified")
        store.add_event(conn, now, "step-succeeded", actor=actor, run_id=step.run_id, cluster_id=step.cluster_id,
                        step_key=step.key, operation_id=step.operation_id,
                        data={"version": version, "calls": step.provider_calls})


def mark_step_failed(store: Store, now: datetime, actor: str, run: Run, step: StepRecord, t: Failed,
                     max_failures: int) -> Run:
    """The step and its member failed; the run counts the failure and halts at ``max_failures``."""
    run_id, cid, why = run.id, step.cluster_id, printable(t.message)
    failures = run.failures + 1
    halt = failures >= max_failures and run.status is RunStatus.RUNNING
    with store.write("step failed") as conn:
        values: dict[str, Any] = {"state": StepState.FAILED.value, "finished_at": now, "next_action_at": None,
                                  "message": why, "provider_calls": t.provider_calls}
        if t.polls is not None:
            values["polls"] = t.polls
        store.update_step(conn, step.id, **values)
        store.update_run_cluster(conn, run_id, cid, status=MemberStatus.FAILED.value, message=why, finished_at=now)
        run_values: dict[str, Any] = {"failures": failures, "updated_at": now}
        if halt:
            run_values["status"] = RunStatus.HALTED.value
        store.update_run(conn, run_id, **run_values)
        store.add_event(conn, now, "step-failed", actor=actor, run_id=run_id, cluster_id=cid, step_key=step.key,
                        operation_id=step.operation_id, message=why)
        store.add_event(conn, now, "cluster-failed", actor=actor, run_id=run_id, cluster_id=cid, message=why)
        if halt:
            store.add_event(conn, now, "run-halted", actor=actor, run_id=run_id,
                            message=f"{failures} failures reached maxFailures={max_failures}")
    log.warning("step failed", extra={"run": run_id, "cluster": cid, "step": step.key, "reason": why})
    return replace(run, failures=failures, status=RunStatus.HALTED if halt else run.status, updated_at=now)


# ---- safety gates (fleet.gates) ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PreflightRecord:
    """One cluster's pre-flight evaluations before ``step``; ``blocked``: why they block it (None: they
    pass); ``changed``: the block started, ended or its reason changed (an event and the member's message)."""
    at: datetime
    member: Member
    step: Step
    evals: Sequence[gate_journal.Evaluated]
    blocked: str | None
    changed: bool


def mark_preflights(store: Store, actor: str, records: Sequence[PreflightRecord]) -> None:
    """Pre-flight gate evaluations of one or more clusters, in one transaction."""
    if not records:
        return
    with store.write("pre-flight gates") as conn:
        store.add_gate_evaluations(conn, [
            row for r in records for row in gate_journal.rows(
                r.evals, at=r.at, phase="preflight", cluster_id=r.member.cluster_id, run_id=r.member.run_id,
                step_id=None, step_key=r.step.key)])
        for r in records:
            m = r.member
            if not r.changed:
                continue
            kind = "cluster-gate-blocked" if r.blocked else "cluster-gate-cleared"
            message = f"blocked by {r.blocked}" if r.blocked else "pre-flight gates pass"
            store.update_run_cluster(conn, m.run_id, m.cluster_id, message=message)
            store.add_event(conn, r.at, kind, actor=actor, run_id=m.run_id, cluster_id=m.cluster_id,
                            step_key=r.step.key, message=message,
                            data={"gates": [{"gate": e.gate, "result": e.result, "reason": e.outcome.reason}
                                            for e in r.evals]})


def mark_post_step_gates(store: Store, now: datetime, step: StepRecord,
                         evals: Sequence[gate_journal.Evaluated], t: Wait | None) -> None:
    """Post-step gate evaluations of ``step``; ``t``: look again then (None: the step is decided now)."""
    with store.write("post-step gates") as conn:
        gate_journal.record(store, conn, evals, at=now, phase="post-step", cluster_id=step.cluster_id,
                            run_id=step.run_id, step_id=step.id, step_key=step.key)
        if t is not None:
            store.update_step(conn, step.id, next_action_at=t.next_action_at, message=t.message)


def mark_step_gating(store: Store, now: datetime, actor: str, step: StepRecord, version: str) -> None:
    """Verified at ``version``: the step's post-step gates are evaluated next (state verifying-gates)."""
    with store.write("step gating") as conn:
        store.update_step(conn, step.id, state=StepState.GATING.value, next_action_at=now,
                          message=f"verified at {version}; post-step gates")
        store.add_event(conn, now, "step-gating", actor=actor, run_id=step.run_id, cluster_id=step.cluster_id,
                        step_key=step.key, operation_id=step.operation_id, data={"version": version})


def mark_step_rolling_back(store: Store, now: datetime, actor: str, step: StepRecord, op: OperationRef,
                           next_action_at: datetime, why: str, api: str) -> None:
    """A post-step gate failed and the provider's rollback started: the step polls ``op`` until it ends."""
    with store.write("step rolling back") as conn:
        store.update_step(conn, step.id, state=StepState.ROLLING_BACK.value, operation_id=op.id,
                          operation_data=op_to_json(op), next_action_at=next_action_at, message=why,
                          provider_calls=step.provider_calls + 1)
        store.add_event(conn, now, "step-rollback", actor=actor, run_id=step.run_id, cluster_id=step.cluster_id,
                        step_key=step.key, operation_id=op.id, message=why,
                        data={"api": api, "upgrade_operation": step.operation_id})
    log.warning("step rolling back", extra={"run": step.run_id, "cluster": step.cluster_id, "step": step.key,
                                            "reason": why})
