"""Status views read from the state store (used by `fleet status`, `fleet apply` and the demo)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fleet.clock import iso
from fleet.execution.stages import observe_approvals
from fleet.state import Store
from fleet.state.gates import GateEvaluation


def status_dict(store: Store, now: datetime | None = None) -> dict[str, Any]:
    runs = []
    for r in store.runs():
        members = store.members(r.id)
        runs.append({"id": r.id, "policy": r.policy, "status": r.status.value, "failures": r.failures,
                     "createdAt": iso(r.created_at), "approvedWaves": list(r.approved_waves),
                     "clusters": [{"cluster": m.cluster_id, "wave": m.wave, "status": m.status.value,
                                   "target": m.target, "message": m.message} for m in members]})
    open_steps = [{"run": s.run_id, "cluster": s.cluster_id, "step": s.key, "state": s.state.value,
                   "operation": s.operation_id} for s in store.steps(open_only=True)]
    out = {"paused": bool(store.get_control("paused", False)), "runs": runs, "openSteps": open_steps,
           **gates_status(store, runs, now)}
    approvals = observe_approvals(store)
    if approvals:                   # the fleet rollout's approvals (fleet promote), when any were given
        out["stageApprovals"] = [a.to_dict() for a in approvals]
    return out


def gates_status(store: Store, runs: list[dict[str, Any]], now: datetime | None) -> dict[str, Any]:
    """The latest evaluation of each gate of the clusters in active runs, and the active overrides."""
    active = {c["cluster"] for r in runs if r["status"] in ("running", "halted") for c in r["clusters"]}
    latest = store.latest_gate_evaluations() if active else {}
    gates = [e.to_dict() for (cid, _g), e in sorted(latest.items()) if cid in active]
    overrides = [o.to_dict(now) for o in store.gate_overrides() if now is None or o.active(now)]
    return {"gates": gates, "overrides": overrides}


def with_gate_evaluations(events: list[dict[str, Any]], evals: Sequence[GateEvaluation]) -> list[dict[str, Any]]:
    """A cluster's audit log with its gate evaluations merged in by time (kind ``gate-evaluation``; the
    message says gate, phase, result and reason; ``data`` carries the evidence)."""
    rows = [{"id": None, "at": e.at, "actor": "engine", "kind": "gate-evaluation", "run_id": e.run_id,
             "cluster_id": e.cluster_id, "step_key": e.step_key, "operation_id": None,
             "message": f"gate {e.gate} ({e.phase}): {e.result}" + (f": {e.reason}" if e.reason else ""),
             "data": {"gate": e.gate, "type": e.gate_type, "phase": e.phase, "result": e.result,
                      "reason": e.reason, "evidence": dict(e.evidence)}} for e in evals]
    return sorted([*events, *rows], key=lambda r: (r["at"], r["kind"] == "gate-evaluation"))
