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
    staged = plan.rollout is not None
    cols = ("cluster", "policy", "status", "path", "pool steps") + (("stage",) if staged else ()) + (
        "wave", "next window", "notes")
    for col in cols:                  # ids are never wrapped mid-word: other columns fold first
        t.add_column(col, no_wrap=True) if col == "cluster" else t.add_column(col, overflow="fold")
    for c in plan.clusters:
        path = " → ".join(c.path) if c.steps else c.control_plane
        pool_steps = sum(1 for s in c.steps if s.pool)
        nw = ""
        if c.next_window is not None:
            nw = f"{iso(c.next_window.start)}" + (f" – {iso(c.next_window.end)}" if c.next_window.end else " (open)")
            nw += f" ({c.timezone})" if c.timezone else ""
        notes = "; ".join(([f"rollout: {c.waits_for}"] if c.waits_for else []) + c.reasons + c.warnings)
        row: list[str | Text] = [c.id, c.policy or "-", Text(c.status, style=STATUS_STYLE.get(c.status, "")), path, str(pool_steps or "")]
        row += [c.stage or ""] if staged else []
        t.add_row(*row, c.wave or "", nw, notes)
    counts: dict[str, int] = {}
    for c in plan.clusters:
        counts[c.status] = counts.get(c.status, 0) + 1
    t.caption = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no clusters"
    return t


def rollout_table(plan: Plan) -> Table | None:
    """The fleet rollout's qualification: one row per planned version, one column per stage ("may start" or
    what it waits for). None without a RolloutStrategy."""
    ro = plan.rollout
    if ro is None:
        return None
    t = Table(title=f"Rollout {ro['name']}: qualification per version and stage", show_lines=True, expand=False)
    t.add_column("version")
    for st in ro["stages"]:
        t.add_column(f"{st['name']} ({len(st['clusters'])})", overflow="fold")
    for version, by_stage in ro["versions"].items():
        t.add_row(version, *[Text(by_stage[st["name"]], style="green" if by_stage[st["name"]] == "may start"
                                  else "yellow") for st in ro["stages"]])
    return t
