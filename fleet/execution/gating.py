"""The engine's safety gates (docs/gates.md): evaluate a policy's gates at the right moments, journal every
evaluation, and turn post-step results into transitions. The engine calls this; this calls the providers'
optional gate methods (fleet.provider: supported_checks, run_check, rollback_support, rollback) and poll.

* pre-flight (``preflight``): right before a step may start (after the engine's time-of-use checks). Any
  gate that does not pass blocks the cluster - it stays where it is (pending or between steps, holding no
  new operation) and is evaluated again at the next opportunity; the run goes on with other clusters.
  An active override of an ``upgrade-blockers`` gate also sets ``Step.force_until`` on the step.
* post-step (``settle_gates``): after the step was verified, until every gate is satisfied (passed for its
  settle period) - then the step succeeds - or one fails at its timeout: then the step is rolled back
  (``onFailure: rollback`` and the provider says it can, within its time) or the cluster is halted; either
  way the member fails and counts against maxFailures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import iso
from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError
from fleet.execution import journal
from fleet.execution import step_machine as sm
from fleet.execution.model import Member, StepRecord
from fleet.gates.checks import ProviderChecks, evaluate
from fleet.gates.journal import Evaluated, summary
from fleet.gates.overrides import active_override
from fleet.gates.settle import DEFAULT_INTERVAL, Seen, compute_progress
from fleet.planning.plan import Plan
from fleet.policy.gates import Gate, Gates
from fleet.provider import (
    BuiltinCheck,
    CheckOutcome,
    CheckResult,
    Cluster,
    OperationState,
    Provider,
    RollbackSupport,
    Step,
)
from fleet.state.base import Store
from fleet.state.gates import GateOverride

log = logging.getLogger("fleet.gates")

BLOCKED_BY_GATE = "blocked-by-gate"


@dataclass(frozen=True, slots=True)
class Preflight:
    ok: bool
    step: Step              # the step to start (with force_until when an upgrade-blockers override is active)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """What the post-step gates decided this time."""
    state: str                          # passed | waiting | failed
    reason: str = ""
    next_at: datetime | None = None
    started: datetime | None = None     # when the step entered its gates phase


class GateKeeper:
    def __init__(self, store: Store, providers: Mapping[str, Provider], actor: str,
                 interval: timedelta = DEFAULT_INTERVAL):
        self.store = store
        self.providers = providers
        self.actor = actor
        self.interval = interval
        self.blocked: dict[str, str] = {}     # cluster id -> why pre-flight gates block it (this process's view)
        self._pending: list[journal.PreflightRecord] = []    # blocked clusters' evaluations, until flush()
        self._overrides: dict[str, list[GateOverride]] | None = None   # by cluster, read once per tick

    # ---- evaluation ---------------------------------------------------------------------------------------
    def _checks(self, cluster: Cluster, step: Step, now: datetime) -> ProviderChecks:
        p = self.providers.get(cluster.provider)
        supported: frozenset[str] = frozenset()
        fn = getattr(p, "supported_checks", None)
        run_fn = getattr(p, "run_check", None)
        if callable(fn) and callable(run_fn):
            try:
                supported = frozenset(str(c) for c in fn(cluster))
            except ProviderError as exc:
                log.warning("supported_checks failed", extra={"cluster": cluster.id, "reason": str(exc)})

        def run(check: BuiltinCheck, params: Mapping[str, Any]) -> CheckOutcome:
            assert callable(run_fn), "only called for a supported check"
            out: CheckOutcome = run_fn(cluster, check, step, params, now)
            return out
        return ProviderChecks(cluster.provider_type, supported, run)

    def evaluate(self, gates: Sequence[Gate], cluster: Cluster, step: Step, phase: str, now: datetime,
                 overrides: Sequence[GateOverride]) -> list[Evaluated]:
        checks = self._checks(cluster, step, now)
        context = {"cluster": cluster.id, "provider": cluster.provider, "phase": phase, "step": step.key,
                   "from": step.from_, "to": step.to, "at": iso(now)}
        out = []
        for g in gates:
            o = active_override(overrides, cluster.id, g.name, now)
            if o is not None:
                outcome = CheckOutcome(CheckResult.PASS, f"overridden by {o.actor} until {iso(o.until)}: {o.reason}",
                                       {"override": o.id, "actor": o.actor, "until": iso(o.until),
                                        "reason": o.reason})
                out.append(Evaluated(g.name, g.type, "overridden", outcome))
                continue
            outcome = evaluate(g, checks, {**context, "gate": g.name})
            out.append(Evaluated(g.name, g.type, outcome.result.value, outcome))
        return out

    # ---- pre-flight ---------------------------------------------------------------------------------------
    def new_tick(self) -> None:
        """Forget what was read for the last tick (overrides are read once per tick)."""
        self._overrides = None

    def overrides(self, cluster_id: str) -> list[GateOverride]:
        if self._overrides is None:
            self._overrides = {}
            for o in self.store.gate_overrides():
                self._overrides.setdefault(o.cluster_id, []).append(o)
        return self._overrides.get(cluster_id, [])

    def preflight(self, gates: Gates, member: Member, cluster: Cluster, step: Step, now: datetime) -> Preflight:
        """Evaluate the pre-flight gates. A passing result is journaled at once (before the step's intent);
        blocked ones are journaled together at the end of the tick (``flush``)."""
        if not gates.preflight:
            return Preflight(True, step)
        overrides = self.overrides(cluster.id)
        evals = self.evaluate(gates.preflight, cluster, step, "preflight", now, overrides)
        why = summary(evals) or None
        previous = self.blocked.get(cluster.id)
        self._pending.append(journal.PreflightRecord(now, member, step, evals, why, why != previous))
        if why:
            self.blocked[cluster.id] = why
            return Preflight(False, step, why)
        self.flush()
        self.blocked.pop(cluster.id, None)
        for g in gates.preflight:
            if g.type == "upgrade-blockers":
                o = active_override(overrides, cluster.id, g.name, now)
                if o is not None:
                    step = replace(step, force_until=iso(o.until))
        return Preflight(True, step)

    def flush(self) -> None:
        """Journal the pre-flight evaluations not journaled yet (one transaction)."""
        records, self._pending = self._pending, []
        journal.mark_preflights(self.store, self.actor, records)
        if records:
            n = sum(1 for r in records if r.blocked)
            if n:
                log.info("pre-flight gates block clusters", extra={"clusters": n})

    # ---- post-step ----------------------------------------------------------------------------------------
    def post_step(self, gates: Gates, step: StepRecord, cluster: Cluster, now: datetime) -> GateVerdict:
        """Evaluate the step's unsatisfied post-step gates once, journal them, and decide."""
        history = [e for e in self.store.gate_evaluations(step_id=step.id, limit=100000) if e.phase == "post-step"]
        started = min((e.at for e in history), default=now)
        seen: dict[str, list[Seen]] = {}
        for e in history:
            seen.setdefault(e.gate, []).append(Seen(e.at, e.result, e.reason))
        due = [g for g in gates.post_step if compute_progress(seen.get(g.name, []), g.settle, g.timeout, started,
                                                             now, self.interval).state != "satisfied"]
        overrides = self.overrides(cluster.id) if due else []
        evals = self.evaluate(due, cluster, step.step, "post-step", now, overrides)
        for ev in evals:
            seen.setdefault(ev.gate, []).append(Seen(now, ev.result, ev.outcome.reason))
        verdict = compute_verdict(gates.post_step, seen, started, now, self.interval)
        wait = sm.Wait(verdict.next_at, f"post-step gates: {verdict.reason or 'settling'}") \
            if verdict.state == "waiting" and verdict.next_at is not None else None
        journal.mark_post_step_gates(self.store, now, step, evals, wait)
        return verdict

    def rollback_support(self, gates: Gates, cluster: Cluster, step: StepRecord, started: datetime,
                         now: datetime) -> tuple[RollbackSupport | None, str]:
        """How the step can be rolled back now, or why not (onFailure: halt, the provider cannot, too late)."""
        if gates.on_failure == "halt":
            return None, "onFailure: halt"
        p = self.providers.get(cluster.provider)
        fn = getattr(type(p), "rollback_support", None)
        if not callable(fn) or not callable(getattr(p, "rollback", None)):
            return None, f"provider {cluster.provider_type} cannot roll back"
        support = fn(cluster, step.step)
        if support is None:
            return None, f"provider {cluster.provider_type} cannot roll back {step.key}"
        if support.within_seconds is not None and (now - started).total_seconds() > support.within_seconds:
            return None, f"{support.api} is allowed within {support.within_seconds}s of the step only"
        return support, ""

    def start_rollback(self, gates: Gates, cluster: Cluster, step: StepRecord, verdict: GateVerdict, now: datetime,
                       timing: sm.PollTiming, fail: Callable[[sm.Failed], None]) -> None:
        """A post-step gate failed: roll back where possible (the step then polls the rollback), else halt."""
        why = f"post-step {verdict.reason}"
        support, why_not = self.rollback_support(gates, cluster, step, verdict.started or now, now)
        if support is None:
            fail(sm.Failed(f"{why}; cluster halted ({why_not})", step.provider_calls))
            return
        assert step.operation is not None, "a verified step has its operation"
        try:
            op = self.providers[cluster.provider].rollback(cluster, step.step, step.operation)  # type: ignore[attr-defined]
        except ProviderError as exc:
            fail(sm.Failed(f"{why}; rollback through {support.api} could not start: {exc}; cluster halted",
                           step.provider_calls + 1))
            return
        journal.mark_step_rolling_back(self.store, now, self.actor, step, op, now + timing.first_poll,
                                       f"{why}; rolled back through {support.api}", support.api)

    def poll_rollback(self, step: StepRecord, cluster: Cluster, now: datetime, timing: sm.PollTiming,
                      fail: Callable[[sm.Failed], None]) -> None:
        assert step.operation is not None, "a rolling-back step has its rollback operation"
        calls = step.provider_calls + 1
        try:
            status = self.providers[cluster.provider].poll(cluster, step.operation)
        except TemporaryProviderError as exc:
            journal.mark_step_polled(self.store, step, sm.Wait(now + sm.retry_delay(exc), step.message,
                                                               provider_calls=calls))
            return
        except PermanentProviderError as exc:
            fail(sm.Failed(f"{step.message}; rollback poll failed: {exc}", calls))
            return
        if status.state is OperationState.RUNNING:
            polls = step.polls + 1
            journal.mark_step_polled(self.store, step, sm.Wait(now + sm.poll_delay(polls, status, timing),
                                                               step.message, provider_calls=calls, polls=polls))
        elif status.state is OperationState.FAILED:
            fail(sm.Failed(f"{step.message}, but the rollback failed: {status.message}", calls))
        else:
            fail(sm.Failed(step.message, calls))


def compute_verdict(gates: Sequence[Gate], seen: Mapping[str, Sequence[Seen]], started: datetime, now: datetime,
                    interval: timedelta = DEFAULT_INTERVAL) -> GateVerdict:
    """Pure: all satisfied -> passed; any failed -> failed (the first, by policy order); else waiting."""
    next_at: datetime | None = None
    waiting = []
    for g in gates:
        p = compute_progress(seen.get(g.name, []), g.settle, g.timeout, started, now, interval)
        if p.state == "failed":
            return GateVerdict("failed", f"gate {g.name} failed: {p.reason}", started=started)
        if p.state == "waiting":
            waiting.append(f"{g.name}: {p.reason or 'settling'}")
            if p.next_at is not None:
                next_at = p.next_at if next_at is None else min(next_at, p.next_at)
    if not waiting:
        return GateVerdict("passed", started=started)
    return GateVerdict("waiting", "; ".join(waiting), next_at or now + interval, started)


def mark_plan(plan: Plan, blocked: Mapping[str, str]) -> None:
    """Clusters that still need an upgrade and whose pre-flight gates block them: ``blocked-by-gate``."""
    if not blocked:
        return
    for cp in plan.clusters:
        why = blocked.get(cp.id)
        if why and cp.status == "needs-upgrade":
            cp.status = BLOCKED_BY_GATE
            cp.reasons = [*cp.reasons, why]
