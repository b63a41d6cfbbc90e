"""The report as terminal text: header, summary, versions, risk list and the cluster table.

Plain fixed-width columns (long cells are cut with "…"), so 10,000 clusters render in well under a second;
``color`` adds ANSI colours to the status column only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fleet.clock import iso
from fleet.reports.compliance import STATUSES, UPGRADE_STATES, ComplianceReport

MAX_WIDTH = 42
_ANSI = {
    "compliant": "32", "behind-patch": "33", "behind-minor": "38;5;208", "skew-violation": "31",
    "end-of-standard-support": "31", "end-of-extended-support": "1;31", "unmanaged": "2", "upgrading": "34",
    "failed": "1;31", "blocked": "35", "waiting-approval": "33", "waiting-gate": "33", "waiting-window": "2",
}


def _t(dt: datetime | None) -> str:
    return "" if dt is None else dt.strftime("%Y-%m-%d %H:%M")


def _days(v: int | None) -> str:
    return "unknown" if v is None else str(v)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def grid(head: Sequence[str], rows: Sequence[Sequence[str]], *, color_col: int | None = None,
         color: bool = False, right: Sequence[int] = (), keep: Sequence[int] = ()) -> list[str]:
    """Aligned text columns under a header and a rule. Cells longer than MAX_WIDTH are cut with "…", except
    in the ``keep`` columns (ids), which are never cut or wrapped."""
    widths = [len(h) for h in head]
    keep_set = set(keep)
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell) if i in keep_set else min(len(cell), MAX_WIDTH))
    right_set = set(right)

    def line(cells: Sequence[str], paint: bool) -> str:
        parts = []
        for i, cell in enumerate(cells):
            text = cell if i in keep_set else _cut(cell, MAX_WIDTH)
            text = text.rjust(widths[i]) if i in right_set else text.ljust(widths[i])
            if paint and i == color_col and cell in _ANSI:
                text = f"\x1b[{_ANSI[cell]}m{text}\x1b[0m"
            parts.append(text)
        return "  ".join(parts).rstrip()

    out = [line(head, False), "  ".join("-" * w for w in widths)]
    out += [line(row, color) for row in rows]
    return out


def risk_heading(r: ComplianceReport) -> str:
    """What the risk list means in this report: a forecast is only named when one was computed."""
    if r.forecast_computed:
        return "At risk: support ends before the upgrade is forecast to finish"
    return ("At risk: support ends before fleet can move the cluster (no forecast computed: only blocked, "
            "unplanned, already out of support, or no window before the end of support)")


def render_table(r: ComplianceReport, *, color: bool = False, wide: bool = False) -> str:
    """``wide``: more cluster columns (provider, location, wave, reasons)."""
    lines = [f"Fleet compliance at {iso(r.at)} — lifecycle data as of {r.lifecycle_as_of.isoformat()} "
             f"({r.lifecycle_source})",
             f"{_n(len(r.clusters), 'cluster')}, {len(r.risks)} at risk within {r.horizon.days} days, "
             f"{r.upgrade_counts.get('blocked', 0)} blocked, {len(r.newest)} on the newest offered version with "
             f"support ending within {r.horizon.days} days, {r.lifecycle_unknown} with unknown support"]
    if r.forecast is not None:
        lines.append(f"forecast: fleet done at {iso(r.forecast.fleet_done) or 'not within the horizon'}")
    else:
        lines.append("forecast: not computed")
    lines += [f"note: {n}" for n in r.notes]
    lines += ["", "Clusters by compliance status"]
    lines += grid(["status", "clusters"], [[s, str(r.counts[s])] for s in STATUSES], color_col=0, color=color,
                  right=[1])
    lines += ["", "Clusters by upgrade state"]
    lines += grid(["upgrade state", "clusters"], [[s, str(r.upgrade_counts.get(s, 0))] for s in UPGRADE_STATES],
                  color_col=0, color=color, right=[1])
    lines += ["", "Control-plane minors by provider"]
    lines += grid(["provider", "minor", "clusters", "support"],
                  [[p, v.minor, str(v.clusters), v.support] for p, vs in r.versions.items() for v in vs], right=[2])
    if r.forecast is not None and r.forecast.waves:
        lines += ["", "Forecast by wave (UTC)"]
        lines += grid(["wave", "first start", "last completion"],
                      [[n, _t(s) or "not started", _t(e) or "not finished"] for n, s, e in r.forecast.waves])
    lines += ["", risk_heading(r)]
    if r.risks:
        head = ["cluster", "control plane", "status", "upgrade state", "reason", "end of standard", "end of extended"]
        if r.forecast_computed:
            head += ["forecast (UTC)", "days late"]
        rows = []
        for x in r.risks:
            row = [x.cluster, x.control_plane, x.status, x.upgrade_state, x.reason, str(x.end_of_standard),
                   str(x.end_of_extended or "unknown")]
            if r.forecast_computed:
                row += [_t(x.forecast_completion) or "-", "" if x.days_late is None else str(x.days_late)]
            rows.append(row)
        lines += grid(head, rows, color_col=2, color=color, right=[8] if r.forecast_computed else [], keep=[0])
    else:
        lines.append("none")
    lines += ["", "On the newest offered version: support ends within the horizon (nothing newer to move to yet)"]
    if r.newest:
        lines += grid(["cluster", "control plane", "support ends on", "extended support ends on"],
                      [[n.cluster, n.control_plane, str(n.end_of_standard), str(n.end_of_extended or "unknown")]
                       for n in r.newest], keep=[0])
    else:
        lines.append("none")
    lines += ["", "Clusters (times UTC; EoS/EoES: days to end of standard/extended support)"]
    rows = []
    for c in r.clusters:
        pools = "" if not c.pool_count else (c.pool_oldest or "?") if c.pool_oldest == c.pool_newest else \
            f"{c.pool_oldest} … {c.pool_newest}"
        row = [c.id, c.control_plane, pools, c.policy or "-", c.target or "-", c.status, c.upgrade_state,
               _days(c.days_to_standard), _days(c.days_to_extended),
               _t(c.next_window.start) if c.next_window else "", _t(c.forecast_completion)]
        if wide:
            row += [c.provider, c.location, c.wave or "", c.upgrade_reason or "; ".join(c.reasons)]
        rows.append(row)
    head = ["cluster", "control plane", "node pools", "policy", "target", "status", "upgrade", "EoS", "EoES",
            "next window", "forecast"]
    if wide:
        head += ["provider", "location", "wave", "why"]
    lines += grid(head, rows, color_col=5, color=color, right=[7, 8], keep=[0])
    return "\n".join(lines) + "\n"


def _n(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
