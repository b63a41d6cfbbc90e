"""Human renderings shared by CLI commands (rich tables). Machine formats live next to their data."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from fleet.clock import iso
from fleet.planning.plan import Plan

STATUS_STYLE = {
    "up-to-date": "green", "compliant": "green", "needs-upgrade": "yellow", "ahead": "cyan",
    "blocked": "red", "blocked-by-gate": "red", "unmanaged": "dim", "failed": "bold red", "upgrading": "blue",
    "behind-patch": "yellow", "behind-minor": "dark_orange", "skew-violation": "red",
    "end-of-standard-support": "red", "end-of-extended-support": "bold red",
}


def plan_table(plan: Plan) -> Table:
    t = Table(title=f"Upgrade plan at {iso(plan.at)}", show_lines=False, expand=False)
    for col in ("cluster", "policy", "status", "path", "pool steps", "wave", "next window", "notes"):
        t.add_column(col, overflow="fold")
    for c in plan.clusters:
        path = " → ".join(c.path) if c.steps else c.control_plane
        pool_steps = sum(1 for s in c.steps if s.pool)
        nw = ""
        if c.next_window is not None:
            nw = f"{iso(c.next_window.start)}" + (f" – {iso(c.next_window.end)}" if c.next_window.end else " (open)")
        notes = "; ".join(c.reasons + c.warnings)
        t.add_row(c.id, c.policy or "-", Text(c.status, style=STATUS_STYLE.get(c.status, "")), path,
                  str(pool_steps or ""), c.wave or "", nw, notes)
    counts: dict[str, int] = {}
    for c in plan.clusters:
        counts[c.status] = counts.get(c.status, 0) + 1
    t.caption = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no clusters"
    return t
