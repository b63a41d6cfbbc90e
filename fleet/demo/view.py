"""The demo's live view: what the daemon is doing, read from its state store and last plan.

``observe_snapshot`` only reads; ``render_snapshot`` is pure (a snapshot in, a rich renderable out), so the
view can be checked without a terminal. Without a terminal, ``progress_line`` gives one line per update.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from fleet.execution.model import Member, Run, StepRecord, StepState
from fleet.planning.plan import Plan
from fleet.provider import Component
from fleet.render import STATUS_STYLE

MEMBER_STYLE = {"done": "green", "blocked": "red", "failed": "bold red", "active": "blue", "pending": "dim"}


@dataclass
class Snapshot:
    now: datetime
    start: datetime
    end: datetime
    factor: float
    api: str
    runs: list[Run] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    plan: Plan | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    ticks: int = 0
    latest: dict[str, Member] = field(default_factory=dict)    # cluster id -> its membership in its newest run


class EventTail:
    """The newest few events, read incrementally."""

    def __init__(self, keep: int = 4):
        self.keep = keep
        self.after = 0
        self.items: list[dict[str, Any]] = []

    def observe(self, store: Any) -> list[dict[str, Any]]:
        new = store.events(after_id=self.after, limit=1000)
        if new:
            self.after = new[-1]["id"]
            self.items = (self.items + new)[-self.keep:]
        return list(reversed(self.items))


def observe_snapshot(daemon: Any, start: datetime, end: datetime, api: str, tail: EventTail) -> Snapshot:
    st = daemon.store
    return Snapshot(now=daemon.clock.now(), start=start, end=end, factor=float(getattr(daemon.clock, "factor", 1)),
                    api=api, runs=st.runs(), members=st.members(), steps=st.steps(),
                    plan=daemon.engine.last_plan, events=tail.observe(st),
                    ticks=int(daemon.metrics.registry.get_sample_value("fleet_reconcile_total") or 0),
                    latest=st.latest_memberships())


# ---- summaries (pure) --------------------------------------------------------------------------------------

def compute_cluster_rows(s: Snapshot) -> list[dict[str, Any]]:
    """Per cluster of the last plan: latest membership, open step, steps done and steps left."""
    done: Counter[str] = Counter()
    open_step: dict[str, StepRecord] = {}
    for st in s.steps:
        if st.state is StepState.SUCCEEDED:
            done[st.cluster_id] += 1
        elif st.state.open:
            open_step[st.cluster_id] = st
    rows = []
    for c in (s.plan.clusters if s.plan else []):
        m = s.latest.get(c.id)
        left = len(c.steps) if c.status == "needs-upgrade" else 0
        op = open_step.get(c.id)
        rows.append({"id": c.id, "provider": c.provider, "policy": c.policy, "wave": c.wave,
                     "control_plane": c.control_plane, "target": c.target, "plan": c.status,
                     "member": m.status.value if m else None, "message": m.message if m else "",
                     "reasons": list(c.reasons), "done": done[c.id], "left": left, "open": op,
                     "next_window": c.next_window.start if c.next_window is not None else None})
    return rows


def compute_wave_rows(s: Snapshot) -> list[dict[str, Any]]:
    """Per run and wave: member counts by status and what the wave is doing."""
    out = []
    for r in s.runs:
        ms = [m for m in s.members if m.run_id == r.id]
        waves: dict[tuple[int, str], Counter[str]] = {}
        for m in ms:
            waves.setdefault((m.wave_index, m.wave), Counter())[m.status.value] += 1
        for (_idx, name), counts in sorted(waves.items()):
            total = sum(counts.values())
            finished = counts["done"] + counts["blocked"] + counts["failed"]
            out.append({"run": r.id, "policy": r.policy, "run_status": r.status.value, "wave": name,
                        "total": total, "finished": finished, "counts": dict(counts),
                        "done_at": r.wave_done_at.get(name)})
    return out


def _step_text(op: StepRecord | None) -> str:
    if op is None:
        return ""
    what = "control plane" if op.step.component is Component.CONTROL_PLANE else f"pool {op.step.pool}"
    return f"{what} → {op.step.to} ({op.state.value})"


def _now_text(r: dict[str, Any], status: str, now: datetime) -> Text:
    if r["open"] is not None:
        return Text(_step_text(r["open"]), style="blue")
    if status == "blocked":
        return Text("; ".join(r["reasons"]) or r["message"], style="red")
    if status in ("active", "pending", "needs-upgrade") and r["next_window"] is not None and r["next_window"] > now:
        return Text(f"next window {r['next_window']:%a %H:%M}", style="dim")
    if status in ("active", "pending"):
        return Text("waiting for its wave", style="dim") if status == "pending" else Text("")
    return Text("")


def _bar(done: int, total: int, width: int = 16) -> ProgressBar:
    return ProgressBar(total=max(total, 1), completed=done if total else 1, width=width)


def render_snapshot(s: Snapshot) -> Group:
    span = (s.end - s.start).total_seconds()
    elapsed = min(max((s.now - s.start).total_seconds(), 0.0), span)
    day = int(elapsed // 86400) + 1
    head = Table.grid(padding=(0, 2))
    head.add_row(Text(f"virtual time {s.now:%a %Y-%m-%d %H:%M} UTC", style="bold"),
                 Text(f"day {min(day, max(int(span // 86400), 1))} of {int(span // 86400)}"),
                 ProgressBar(total=span, completed=elapsed, width=30),
                 Text(f"x{s.factor:,.0f}  ticks {s.ticks}  API {s.api}", style="dim"))
    waves = Table(title="runs and waves", expand=False, title_justify="left")
    for col in ("policy", "wave", "clusters", "progress", "state"):
        waves.add_column(col)
    for w in compute_wave_rows(s):
        counts = ", ".join(f"{n} {k}" for k, n in sorted(w["counts"].items()))
        state = "done" if w["finished"] == w["total"] else ("active" if w["counts"].get("active") else "waiting")
        waves.add_row(w["policy"], w["wave"], counts, _bar(w["finished"], w["total"], 20),
                      Text(state, style={"done": "green", "active": "blue"}.get(state, "dim")))
    clusters = Table(title="clusters", expand=False, title_justify="left")
    for col in ("cluster", "policy / wave", "control plane", "target", "steps", "now", "status"):
        clusters.add_column(col, overflow="ellipsis", no_wrap=True, min_width=10 if col == "status" else None)
    rows = compute_cluster_rows(s)
    for r in rows:
        status = r["member"] or r["plan"]
        if r["plan"] in ("up-to-date", "blocked", "ahead") and r["member"] in (None, "done", "blocked"):
            status = r["plan"]
        total = r["done"] + r["left"]
        clusters.add_row(r["id"], f"{r['policy'] or '-'} / {r['wave'] or '-'}", r["control_plane"],
                         r["target"] or "-", _bar(r["done"], total), _now_text(r, status, s.now),
                         Text(status, style=MEMBER_STYLE.get(status, STATUS_STYLE.get(status, ""))))
    done = sum(r["done"] for r in rows)
    left = sum(r["left"] for r in rows)
    foot = Table.grid(padding=(0, 2))
    foot.add_row(Text(f"steps verified {done}, left {left}", style="bold"), _bar(done, done + left, 40))
    for e in s.events:
        foot.add_row(Text(f"{e['at']:%a %H:%M} {e['kind']}", style="dim"),
                     Text(f"{e.get('cluster_id') or e.get('run_id') or ''} {e.get('message') or ''}"[:100], style="dim"))
    return Group(Panel(head, title="fleet demo", border_style="cyan"), waves, clusters, foot)


def progress_line(s: Snapshot) -> str:
    """One line for logs and non-terminal output."""
    rows = compute_cluster_rows(s)
    by = Counter((r["member"] or r["plan"]) if r["member"] not in (None, "done") else r["plan"] for r in rows)
    done = sum(r["done"] for r in rows)
    left = sum(r["left"] for r in rows)
    parts = ", ".join(f"{k} {n}" for k, n in sorted(by.items()))
    return f"{s.now:%a %Y-%m-%d %H:%M} UTC: steps verified {done}, left {left}; clusters: {parts}"


def day_of(now: datetime, start: datetime) -> int:
    return int((now - start) / timedelta(days=1)) + 1
