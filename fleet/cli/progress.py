"""`fleet apply` in the foreground: reconcile until every run is finished, showing progress and events
(a rich progress bar per run; moved here from fleet.execution: presentation lives in the CLI)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from fleet.clock import iso
from fleet.execution.model import RunStatus
from fleet.runtime import Runtime

SHOWN_EVENTS = ("run-started", "step-dispatched", "step-succeeded", "step-failed", "step-retry", "cluster-upgraded",
                "cluster-failed", "cluster-blocked", "wave-done", "run-halted", "run-done")


def run_foreground(rt: Runtime, *, once: bool, timeout: float | None, console: Console) -> int:
    engine, store, clock = rt.engine, rt.store, rt.engine.clock
    start = clock.now()
    existing = store.events(limit=10**9)
    last_event = existing[-1]["id"] if existing else 0
    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=False) as progress:
        while True:
            res = engine.reconcile()
            for e in store.events(after_id=last_event, limit=10000):
                last_event = e["id"]
                if e["kind"] in SHOWN_EVENTS:
                    who = e["cluster_id"] or e["run_id"] or ""
                    extra = f" {e['step_key']}" if e["step_key"] else ""
                    op = f" (operation {e['operation_id']})" if e["operation_id"] else ""
                    progress.console.print(f"{iso(e['at'])} {e['kind']:<17} {who}{extra}{op} {e['message']}",
                                           markup=False, highlight=False)
            for r in store.runs():
                members = store.members(r.id)
                finished = sum(1 for m in members if m.status.finished)
                desc = f"run {r.id} ({r.policy}, {r.status.value})"
                if r.id not in tasks:
                    tasks[r.id] = progress.add_task(desc, total=len(members))
                progress.update(tasks[r.id], completed=finished, description=desc)
            active = store.runs(active_only=True)
            if once:
                break
            if not active and res.runs_started == 0:
                break
            if active and all(r.status is RunStatus.HALTED for r in active) and not store.steps(open_only=True):
                console.print("every active run is halted (maxFailures reached): fix the cause, then "
                              "`fleet resume` or `fleet retry RUN`")
                return 1
            if timeout is not None and (clock.now() - start).total_seconds() > timeout:
                console.print("timeout reached; runs continue on the next `fleet apply` or under the daemon")
                return 1
            wait = max(timedelta(seconds=0.2), min(res.next_wake - clock.now(), engine.interval))
            clock.sleep(wait.total_seconds())
    runs = store.runs()
    failed = [r for r in runs if r.status in (RunStatus.FAILED, RunStatus.HALTED)]
    return 1 if failed else 0
