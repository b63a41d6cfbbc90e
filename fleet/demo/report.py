"""The demo's compliance report before and after the week: printed, and written as HTML and JSON.

It uses the report package (fleet.reports: compliance against the shipped lifecycle data, the forecast, the
renderers). Should that package be missing from an install, the demo still prints the plan tables and
writes a minimal HTML page with them, and says so.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from fleet.clock import iso
from fleet.execution.model import Member
from fleet.planning.plan import Plan
from fleet.render import STATUS_STYLE, plan_table

FORECAST_HORIZON = timedelta(days=90)


@dataclass
class DemoReport:
    at: datetime
    plan: Plan
    report: Any = None                     # fleet.reports.compliance.ComplianceReport, when available
    statuses: dict[str, str] = field(default_factory=dict)   # cluster id -> compliance (or plan) status
    notes: list[str] = field(default_factory=list)
    forecast: Any = None                   # fleet.reports.forecast.Forecast the report was made with, if any
    forecast_inputs: Any = None            # (policies, clusters, offers by cluster id) it was made from
    newest_offered: dict[str, str] = field(default_factory=dict)  # cluster id -> newest offered control plane


def _reports_available() -> bool:
    try:
        import fleet.reports.compliance  # noqa: F401
        import fleet.reports.lifecycle  # noqa: F401
        import fleet.reports.render_html  # noqa: F401
        import fleet.reports.render_table  # noqa: F401
    except ImportError:
        return False
    return True


def compute_demo_report(plan: Plan, at: datetime, *, memberships: Mapping[str, Member] | None = None,
                        forecast: Any = None, newest_offered: Mapping[str, str] | None = None) -> DemoReport:
    out = DemoReport(at, plan, newest_offered=dict(newest_offered or {}))
    if not _reports_available():
        out.notes.append("fleet.reports is not installed: showing the plan instead of the compliance report")
        out.statuses = {c.id: c.status for c in plan.clusters}
        return out
    from fleet.reports.compliance import Membership, compute_report
    from fleet.reports.lifecycle import load_builtin
    ms = {cid: Membership(m.run_id, m.status.value, m.message) for cid, m in (memberships or {}).items()}
    out.report = compute_report(plan, load_builtin(), at, forecast=forecast, memberships=ms,
                                newest_offered=newest_offered)
    out.statuses = {c.id: c.status for c in out.report.clusters}
    return out


def compute_forecast(policies: list[Any], observation: Any, observer: Any, at: datetime) -> tuple[Any, list[str]]:
    """When each cluster will be done under the policies (fleet.reports.forecast), or None with a note."""
    try:
        from fleet.reports.forecast import forecast_fleet
    except ImportError:
        return None, ["forecast unavailable: fleet.reports.forecast is not installed"]
    from fleet.demo.scenario import DEMO_STEP_DURATIONS
    clusters = list(observation.clusters.values())
    fc = forecast_fleet(policies, clusters, lambda c: observer.offers_for(c, at), at, horizon=FORECAST_HORIZON,
                        durations=DEMO_STEP_DURATIONS)
    fc.notes.append("step durations: the demo's emulated clouds' own (fleet.demo.scenario.DEMO_STEP_DURATIONS), "
                    "as `fleet forecast --step-duration` would give them")
    return fc, []


def compute_calibrated_forecast(before: DemoReport, store: Any) -> tuple[Any, Any] | None:
    """The forecast made again from the fleet as found, with step durations calibrated from the journal the
    week left behind (fleet.reports.calibration: p50 likely, p90 late): (forecast, calibration), or None."""
    if before.forecast_inputs is None:
        return None
    from fleet.reports.calibration import compute_calibration, observe_samples
    from fleet.reports.forecast import forecast_fleet
    policies, clusters, offers = before.forecast_inputs
    cal = compute_calibration(observe_samples(store, {c.id: c for c in clusters}))
    fc = forecast_fleet(policies, clusters, lambda c: offers.get(c.id), before.at, horizon=FORECAST_HORIZON,
                        model=cal.likely, late_model=cal.late)
    return fc, cal


def _statuses(r: DemoReport) -> tuple[str, ...]:
    if r.report is not None:
        from fleet.reports.compliance import STATUSES
        return tuple(STATUSES)
    return ("up-to-date", "needs-upgrade", "ahead", "blocked", "unmanaged")


def _counts(r: DemoReport) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in r.statuses.values():
        out[s] = out.get(s, 0) + 1
    return out


def render_counts(before: DemoReport, after: DemoReport | None = None) -> Table:
    """Clusters by compliance status: before, and after when given."""
    t = Table(title="clusters by compliance status" if after else f"compliance at {iso(before.at)}",
              title_justify="left")
    t.add_column("status")
    t.add_column("before", justify="right")
    if after is not None:
        t.add_column("after", justify="right")
    b, a = _counts(before), _counts(after) if after else {}
    for s in _statuses(before):
        if b.get(s) or a.get(s):
            row: list[Text | str] = [Text(s, style=STATUS_STYLE.get(s, "")), str(b.get(s, 0))]
            t.add_row(*(row + ([str(a.get(s, 0))] if after is not None else [])))
    return t


def print_before(console: Console, r: DemoReport, html_path: Path) -> None:
    console.rule(f"[bold]Before: the fleet as found at {iso(r.at)}")
    for n in r.notes:
        console.print(f"note: {n}", style="yellow", markup=False)
    parts: list[Any] = [render_counts(r)]
    rep = r.report
    if rep is not None:
        risks = Table(title=f"at risk ({len(rep.risks)}): support ends before the upgrade is done", title_justify="left")
        for col in ("cluster", "control plane", "end of standard support", "why"):
            risks.add_column(col)
        for x in rep.risks[:8]:
            risks.add_row(x.cluster, x.control_plane, str(x.end_of_standard), x.reason)
        if len(rep.risks) > 8:
            risks.caption = f"… and {len(rep.risks) - 8} more in {html_path.name}"
        parts.append(risks)
        if rep.forecast is not None:
            parts.append(Text(f"forecast under these policies: fleet done at {iso(rep.forecast.fleet_done) or 'beyond 90 days'}"))
    else:
        parts.append(plan_table(r.plan))
    console.print(Group(*parts))
    console.print(f"full report: {html_path}", markup=False, highlight=False)


def print_after(console: Console, before: DemoReport, after: DemoReport, html_path: Path) -> None:
    console.rule(f"[bold]After: the fleet at {iso(after.at)}")
    for n in after.notes:
        console.print(f"note: {n}", style="yellow", markup=False)
    console.print(render_counts(before, after))
    if after.report is None:
        console.print(plan_table(after.plan))
    console.print(f"full report: {html_path}", markup=False, highlight=False)


def write_html(path: Path, r: DemoReport) -> None:
    if r.report is not None:
        from fleet.reports.render_html import render_html
        text = render_html(r.report)
    else:
        rows = "".join(f"<tr><td>{html.escape(c.id)}</td><td>{html.escape(c.policy or '-')}</td>"
                       f"<td>{html.escape(c.status)}</td><td>{html.escape(' → '.join(c.path) or c.control_plane)}</td>"
                       f"<td>{html.escape('; '.join(c.reasons))}</td></tr>" for c in r.plan.clusters)
        text = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>fleet demo plan "
                f"{html.escape(iso(r.at) or '')}</title></head><body><h1>Upgrade plan at {html.escape(iso(r.at) or '')}"
                f"</h1><table><tr><th>cluster</th><th>policy</th><th>status</th><th>path</th><th>reasons</th></tr>"
                f"{rows}</table></body></html>")
    path.write_text(text, encoding="utf-8")


def write_json(path: Path, r: DemoReport) -> None:
    if r.report is not None:
        from fleet.reports.render_json import render_json
        path.write_text(render_json(r.report), encoding="utf-8")
    else:
        path.write_text(json.dumps(r.plan.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
