"""The one writer of gate evaluations (``gate_evaluations``) and the gate events of the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleet.provider import CheckOutcome
from fleet.state.base import Store


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One gate's evaluation, ready to journal (``result`` is the outcome's, or ``overridden``)."""
    gate: str
    gate_type: str
    result: str
    outcome: CheckOutcome

    @property
    def passed(self) -> bool:
        return self.result in ("pass", "overridden")


def rows(evals: Sequence[Evaluated], *, at: datetime, phase: str, cluster_id: str, run_id: str | None,
         step_id: int | None, step_key: str | None) -> list[dict[str, Any]]:
    return [{"at": at, "run_id": run_id, "cluster_id": cluster_id, "step_id": step_id, "step_key": step_key,
             "gate": e.gate, "gate_type": e.gate_type, "phase": phase, "result": e.result,
             "reason": e.outcome.reason, "evidence": dict(e.outcome.evidence)} for e in evals]


def record(store: Store, conn: Any, evals: Sequence[Evaluated], **where: Any) -> None:
    """Inside the caller's write transaction: one row per evaluation."""
    store.add_gate_evaluations(conn, rows(evals, **where))


def summary(evals: Sequence[Evaluated]) -> str:
    """``gate X: reason; gate Y: reason`` for the evaluations that did not pass."""
    return "; ".join(f"gate {e.gate} {e.result}: {e.outcome.reason}" for e in evals if not e.passed)
