"""Rich tables of the run commands: ``fleet status`` (runs, and the clusters of active runs) and
``fleet history`` (one cluster's audit log). Their JSON forms come from the same data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from fleet.clock import iso
from fleet.execution.status import status_dict
from fleet.render import STATUS_STYLE
from fleet.state import Store


def status_tables(store: Store, now: datetime | None = None) -> list[Table]:
    return status_tables_from(status_dict(store, now))


def status_tables_from(d: dict[str, Any]) -> list[Table]:
    """The status tables of a status_dict (read from the store, or from the daemon's /api/v1/status)."""
    runs = Table(title="runs" + ("  [PAUSED: no new steps start]" if d["paused"] else ""))
    for col in ("run", "policy", "status", "failures", "clusters", "created"):
        runs.add_column(col)
    for r in d["runs"]:
        counts: dict[str, int] = {}
        for c in r["clusters"]:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        runs.add_row(r["id"], r["policy"], Text(r["status"], style="red" if r["status"] == "halted" else ""),
                     str(r["failures"]), ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), r["createdAt"])
    members = Table(title="clusters in active runs, and clusters whose latest run left them failed or blocked")
    members.add_column("cluster", no_wrap=True)
    for col in ("run", "wave", "status", "message"):
        members.add_column(col, overflow="fold")
    for r, c in attention_rows(d):
        members.add_row(c["cluster"], r["id"], c["wave"], Text(c["status"], style=STATUS_STYLE.get(c["status"], "")),
                        c["message"])
    return [runs, members, *gate_tables(d)]


def attention_rows(d: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(run, member) rows ``fleet status`` lists: every member of an active run, and each cluster whose latest
    run (by creation) finished with it failed or blocked — a failed cluster stays visible after its run ends,
    until a later run takes it."""
    latest: dict[str, str] = {}
    for r in d["runs"]:                     # runs come in creation order: the last one naming a cluster wins
        for c in r["clusters"]:
            latest[c["cluster"]] = r["id"]
    out = []
    for r in d["runs"]:
        active = r["status"] in ("running", "halted")
        for c in r["clusters"]:
            if active or (c["status"] in ("failed", "blocked") and latest.get(c["cluster"]) == r["id"]):
                out.append((r, c))
    return out


def gate_tables(d: dict[str, Any]) -> list[Table]:
    """The latest gate evaluations of clusters in active runs, and the active overrides (when any)."""
    out = []
    if d["gates"]:
        t = Table(title="gates (latest evaluation, clusters in active runs)")
        t.add_column("cluster", no_wrap=True)
        for col in ("gate", "phase", "result", "at", "reason"):
            t.add_column(col, overflow="fold")
        for g in d["gates"]:
            style = "green" if g["result"] in ("pass", "overridden") else "red"
            t.add_row(g["cluster"], g["gate"], g["phase"], Text(g["result"], style=style), g["at"], g["reason"])
        out.append(t)
    if d["overrides"]:
        t = Table(title="gate overrides")
        for col in ("id", "cluster", "gate", "until", "actor", "reason"):
            t.add_column(col, overflow="fold")
        for o in d["overrides"]:
            t.add_row(str(o["id"]), o["cluster"], o["gate"], o["until"], o["actor"], o["reason"])
        out.append(t)
    return out


def history_table(cluster: str, events: list[dict[str, Any]]) -> Table:
    t = Table(title=f"history of {cluster}")
    for col in ("at", "kind", "actor", "run", "step", "operation", "message"):
        t.add_column(col, overflow="fold")
    for e in events:
        t.add_row(iso(e["at"]), e["kind"], e["actor"], e["run_id"] or "", e["step_key"] or "",
                  e["operation_id"] or "", e["message"])
    return t


def plan_table_from(d: dict[str, Any]) -> Table:
    """The plan table of a plan's JSON form (the daemon's /api/v1/plan), as fleet.render.plan_table shows a
    Plan."""
    t = Table(title=f"Upgrade plan at {d.get('at') or '-'}")
    t.add_column("cluster", no_wrap=True)
    for col in ("policy", "status", "path", "pool steps", "wave", "next window", "notes"):
        t.add_column(col, overflow="fold")
    counts: dict[str, int] = {}
    for c in d.get("clusters", []):
        counts[c["status"]] = counts.get(c["status"], 0) + 1
        cp = [s["to"] for s in c["steps"] if s["component"] == "control-plane"]
        path = " → ".join([c["current"]["controlPlane"], *cp]) if c["steps"] else c["current"]["controlPlane"]
        nw = c.get("nextWindow")
        window = "" if not nw else nw["start"] + (f" – {nw['end']}" if nw.get("end") else " (open)")
        t.add_row(c["id"], c["policy"] or "-", Text(c["status"], style=STATUS_STYLE.get(c["status"], "")), path,
                  str(sum(1 for s in c["steps"] if s["pool"]) or ""), c.get("wave") or "", window,
                  "; ".join(c["reasons"] + c["warnings"]))
    t.caption = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no clusters"
    return t
