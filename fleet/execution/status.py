"""Status views read from the state store (used by `fleet status`, `fleet apply` and the demo)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from fleet.clock import iso
from fleet.render import STATUS_STYLE
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
    return {"paused": bool(store.get_control("paused", False)), "runs": runs, "openSteps": open_steps}


def status_tables(store: Store) -> list[Table]:
    d = status_dict(store)
    runs = Table(title="runs" + ("  [PAUSED: no new steps start]" if d["paused"] else ""))
    for col in ("run", "policy", "status", "failures", "clusters", "created"):
        runs.add_column(col)
    for r in d["runs"]:
        counts: dict[str, int] = {}
        for c in r["clusters"]:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        runs.add_row(r["id"], r["policy"], Text(r["status"], style="red" if r["status"] == "halted" else ""),
                     str(r["failures"]), ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), r["createdAt"])
    members = Table(title="clusters in active runs")
    for col in ("cluster", "run", "wave", "status", "message"):
        members.add_column(col, overflow="fold")
    for r in d["runs"]:
        if r["status"] not in ("running", "halted"):
            continue
        for c in r["clusters"]:
            members.add_row(c["cluster"], r["id"], c["wave"], Text(c["status"], style=STATUS_STYLE.get(c["status"], "")),
                            c["message"])
    return [runs, members]
