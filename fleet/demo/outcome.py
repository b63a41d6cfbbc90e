"""What became of each cluster: its versions and status before and after, the steps verified, and the one
word the demo (and its end-to-end test) judges it by:

- ``compliant``: at (or ahead of) its policy's target: the planner has nothing left to do;
- ``blocked``: the planner cannot move it and says why (e.g. no image for the target built) — a stated
  reason is a good outcome: a person has something to fix;
- ``failed``: a step failed (the run's message says why);
- ``not-done``: still needs upgrading when the demo ended (not a good outcome).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleet.clock import iso
from fleet.execution.model import Member, MemberStatus, StepRecord, StepState

GOOD = ("compliant", "blocked")
FAILED_OR_BLOCKED = (MemberStatus.BLOCKED, MemberStatus.FAILED)
STYLE = {"compliant": "green", "blocked": "yellow", "failed": "bold red", "not-done": "bold red"}


def compute_verdict(plan_status: str, reasons: list[str], membership: Member | None) -> str:
    if membership is not None and membership.status is MemberStatus.FAILED:
        return "failed"
    if plan_status in ("up-to-date", "ahead"):      # ahead: newer than the target, never downgraded
        return "compliant"
    if plan_status in ("blocked", "unmanaged") and reasons:
        return "blocked"
    return "not-done"


def compute_outcome(before: Any, after: Any, memberships: dict[str, Member],
                    steps: list[StepRecord], done_at: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    first = before.plan.by_id()
    verified = Counter(s.cluster_id for s in steps if s.state is StepState.SUCCEEDED)
    out = []
    for c in after.plan.clusters:
        b = first.get(c.id)
        m = memberships.get(c.id)
        reasons = list(c.reasons) or ([m.message] if m and m.status in FAILED_OR_BLOCKED and m.message else [])
        out.append({
            "id": c.id, "provider": c.provider, "policy": c.policy, "target": c.target,
            "before": {"controlPlane": b.control_plane if b else None, "nodePools": dict(b.node_pools) if b else {},
                       "plan": b.status if b else None, "compliance": before.statuses.get(c.id)},
            "after": {"controlPlane": c.control_plane, "nodePools": dict(c.node_pools), "plan": c.status,
                      "compliance": after.statuses.get(c.id), "run": m.status.value if m else None},
            "stepsVerified": verified[c.id], "doneAt": iso((done_at or {}).get(c.id)), "reasons": reasons,
            "verdict": compute_verdict(c.status, reasons, m)})
    return out


def print_outcome(console: Console, outcome: list[dict[str, Any]]) -> bool:
    """Print the per-cluster outcome; True when every cluster ended compliant or blocked with a reason."""
    t = Table(title="What the daemon did this week", title_justify="left")
    for col in ("cluster", "before", "after", "compliance before → after", "steps", "result", "why"):
        t.add_column(col, overflow="fold", no_wrap=col == "cluster")
    for o in outcome:
        b, a = o["before"].get("compliance") or "-", o["after"].get("compliance") or "-"
        t.add_row(o["id"], o["before"]["controlPlane"] or "-", o["after"]["controlPlane"], f"{b} → {a}",
                  str(o["stepsVerified"]), Text(o["verdict"], style=STYLE.get(o["verdict"], "")),
                  "; ".join(o["reasons"]))
    counts = Counter(o["verdict"] for o in outcome)
    t.caption = ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))
    console.print(t)
    return all(o["verdict"] in GOOD for o in outcome)


def _minutes(e: Any) -> str:
    return "-" if e is None else f"{e.total_seconds() / 60:+.0f} min"


def print_accuracy(console: Console, acc: Any, calibrated_from: Any = None) -> None:
    """Forecast (made before the week) against what happened: per lane (policy / wave), per cluster, and the
    distribution of the absolute error. ``calibrated_from``: the forecast was made again from the fleet as
    found with step durations calibrated from the week's journal (a fleet.reports.calibration.Calibration)."""
    if calibrated_from is not None:
        s = acc.summary()
        console.print(f"Forecast made again from the fleet as found, with step durations calibrated from this "
                      f"week's journal: absolute error over {s['compared']} clusters: median "
                      f"{s.get('p50Minutes', '-')} min, p90 {s.get('p90Minutes', '-')} min, max "
                      f"{s.get('maxMinutes', '-')} min", markup=False, highlight=False)
        for n in calibrated_from.notes():
            console.print(f"  {n}", markup=False, highlight=False)
        return
    lanes = Table(title="Forecast vs actual, per wave (policy / wave: last cluster done)", title_justify="left")
    for col in ("lane", "forecast", "actual", "actual - forecast"):
        lanes.add_column(col)
    for ln in acc.lanes:
        lanes.add_row(ln.lane, iso(ln.forecast_end) or "-", iso(ln.actual_end) or "-", _minutes(ln.error))
    console.print(lanes)
    t = Table(title="Forecast vs actual, per cluster", title_justify="left")
    for col in ("cluster", "lane", "forecast (likely)", "late (p90)", "actual", "actual - forecast"):
        t.add_column(col, no_wrap=col == "cluster")
    for c in acc.clusters:
        t.add_row(c.cluster, c.lane, iso(c.forecast) or "-", iso(c.late) or "-", iso(c.actual) or "-",
                  _minutes(c.error))
    s = acc.summary()
    t.caption = (f"absolute error over {s['compared']} clusters: median {s.get('p50Minutes', '-')} min, "
                 f"p90 {s.get('p90Minutes', '-')} min, max {s.get('maxMinutes', '-')} min"
                 + (f"; not compared: {', '.join(s['notCompared'])}" if s["notCompared"] else ""))
    console.print(t)
