"""Status views read from the state store (used by `fleet status`, `fleet apply` and the demo)."""

from __future__ import annotations

from typing import Any

from fleet.clock import iso
from fleet.execution.stages import observe_approvals
from fleet.state import Store


def status_dict(store: Store) -> dict[str, Any]:
    runs = []
    for r in store.runs():
        members = store.members(r.id)
        runs.append({"id": r.id, "policy": r.policy, "status": r.status.value, "failures": r.failures,
                     "createdAt": iso(r.created_at), "approvedWaves": list(r.approved_waves),
                     "clusters": [{"cluster": m.cluster_id, "wave": m.wave, "status": m.status.value,
                                   "target": m.target, "message": m.message} for m in members]})
    open_steps = [{"run": s.run_id, "cluster": s.cluster_id, "step": s.key, "state": s.state.value,
                   "operation": s.operation_id} for s in store.steps(open_only=True)]
    out = {"paused": bool(store.get_control("paused", False)), "runs": runs, "openSteps": open_steps}
    approvals = observe_approvals(store)
    if approvals:                   # the fleet rollout's approvals (fleet promote), when any were given
        out["stageApprovals"] = [a.to_dict() for a in approvals]
    return out
