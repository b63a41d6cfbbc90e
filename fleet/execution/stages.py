"""The fleet rollout in the engine: observe the journal's history and the approvals, and ask the pure
Qualifier (fleet.planning.rollout) whether a member's next step may start in its stage.

* ``observe_history``: every journaled step (succeeded, failed, open) and every failed member, as
  HistoryStep; read once per change of the store (the engine keys it by the last event id).
* ``observe_approvals``: the ``promotion-approved`` events (append-only: concurrent approvals never overwrite
  each other). ``mark_promotion_approved`` writes one (fleet approve --stage S --version V).
* ``StageGate``: one tick's view: the Qualifier at ``now`` plus the clusters upgrading now, for each stage's
  maxConcurrentClusters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleet.errors import NotFoundError
from fleet.execution.model import MemberStatus, StepState
from fleet.planning.rollout import (
    Approval,
    HistoryStep,
    Qualifier,
    StageVerdict,
    compute_qualifier,
    has_run,
    release_of,
)
from fleet.policy.rollout import RolloutStrategy
from fleet.state.base import Store
from fleet.versions import InvalidVersion, Version, parse_version

APPROVAL_EVENT = "promotion-approved"


def _has_run(current: Version, version: str) -> bool:
    try:
        return has_run(current, parse_version(version))
    except InvalidVersion:
        return False

_MAX_APPROVALS = 100000


def observe_history(store: Store) -> list[HistoryStep]:
    out: list[HistoryStep] = []
    for s in store.steps():
        if s.state is StepState.SUCCEEDED:
            state = "succeeded"
        elif s.state is StepState.FAILED:
            state = "failed"
        else:
            state = "open"
        out.append(HistoryStep(s.cluster_id, s.step.to, s.step.from_, state,
                               s.finished_at if state != "open" else None))
    for m in store.members():
        if m.status is MemberStatus.FAILED and m.target:     # a failed gate, or a step failure (counted twice: fine)
            out.append(HistoryStep(m.cluster_id, m.target, "", "failed", m.finished_at))
    return out


def observe_approvals(store: Store) -> list[Approval]:
    out = []
    for e in store.events(kind=APPROVAL_EVENT, limit=_MAX_APPROVALS):
        data = e.get("data") or {}
        if "stage" in data and "version" in data:
            at = e["at"] if isinstance(e.get("at"), datetime) else datetime.fromisoformat(str(e["at"]))
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
            out.append(Approval(str(data["stage"]), str(data["version"]), at, str(e.get("actor") or "")))
    return out


def mark_promotion_approved(store: Store, now: datetime, actor: str, rollout: RolloutStrategy | None,
                            stage: str, version: str) -> Approval:
    """Record a person's approval of ``version`` for ``stage`` (an event; refused for an unknown stage)."""
    if rollout is None:
        raise NotFoundError("there is no RolloutStrategy in the policies folder")
    names = [s.name for s in rollout.spec.stages]
    if stage not in names:
        raise NotFoundError(f"rollout {rollout.name} has no stage {stage!r} (stages: {', '.join(names)})")
    release = release_of(version)
    if release is None:
        raise NotFoundError(f"not a Kubernetes version: {version!r}")
    with store.write("approve promotion") as conn:
        store.add_event(conn, now, APPROVAL_EVENT, actor=actor,
                        message=f"{release} approved for stage {stage}", data={"stage": stage, "version": release})
    return Approval(stage, release, now, actor)


@dataclass
class StageGate:
    """One tick's rollout decisions: may this member's next step start in its stage now?"""
    qualifier: Qualifier
    active: set[str] = field(default_factory=set)     # clusters of active runs holding a slot (upgrading)

    def check(self, cluster_id: str, version: str, starting: bool) -> StageVerdict:
        """``starting``: the member would take a new slot (it is pending), so its stage's
        maxConcurrentClusters applies too."""
        i = self.qualifier.stage_of.get(cluster_id)
        cur = self.qualifier.current.get(cluster_id)
        if not starting and cur is not None and _has_run(cur, version):
            return StageVerdict(True)   # mid-upgrade: its control plane already runs it (pools catching up)
        v = self.qualifier.verdict(i, version)
        if not v.may_start:
            return v
        if starting:
            free = self.qualifier.slots(i, self.active)
            if free is not None and free <= 0:
                return StageVerdict(False, f"stage {self.qualifier.stage_name(i)} is at its maxConcurrentClusters "
                                           f"({self.qualifier.max_concurrent(i)})")
        return v

    def took_slot(self, cluster_id: str) -> None:
        self.active.add(cluster_id)


def compute_stage_gate(rollout: RolloutStrategy, clusters: Sequence[Any], history: Iterable[HistoryStep],
                       approvals: Iterable[Approval], active: Iterable[str], now: datetime) -> StageGate:
    return StageGate(compute_qualifier(rollout, clusters, history, approvals, now), set(active))
