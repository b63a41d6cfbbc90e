"""Status views read from the state store (used by `fleet status`, `fleet apply` and the demo)."""

from __future__ import annotations

from typing import Any

from fleet.clock import iso
from fleet.state.store import Store


def status_dict(store: Store) -> dict[str, Any]:
    runs = []
    for r in store.runs():
        members = store.run_clusters(r["id"])
        runs.append({"id": r["id"], "policy": r["policy"], "status": r["status"], "failures": r["failures"],
                     "createdAt": iso(r["created_at"]), "approvedWaves": r["approved_waves"],
                     "clusters": [{"cluster": m["cluster_id"], "wave": m["wave"], "status": m["status"],
                                   "target": m["target"], "message": m["message"]} for m in members]})
    open_steps = [{"run": s["run_id"], "cluster": s["cluster_id"], "step": s["step_key"], "state": s["state"],
                   "operation": s["operation_id"]} for s in store.steps(open_only=True)]
    return {"paused": bool(store.get_control("paused", False)), "runs": runs, "openSteps": open_steps}
