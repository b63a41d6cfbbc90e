"""Operator commands: pause/resume the fleet, resume halted runs, approve a wave, retry a run's failures.

Shared by the CLI and the daemon's API. Each validates against the store, then records through the journal;
the engine picks the change up on its next tick. An unknown run or wave raises NotFoundError.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fleet.errors import NotFoundError, NothingToApproveError
from fleet.execution import journal
from fleet.execution.model import Run, RunStatus
from fleet.state.base import Store


def set_paused(store: Store, now: datetime, paused: bool, actor: str) -> None:
    """Stop (or let) new steps start; resuming also un-halts halted runs, in the same transaction."""
    journal.mark_paused(store, now, actor, paused)


def resume_runs(store: Store, now: datetime, actor: str, run_id: str | None = None) -> int:
    """Un-halt halted runs (their failure count restarts at 0)."""
    n = 0
    for r in store.runs(active_only=True):
        if r.status is RunStatus.HALTED and (run_id is None or r.id == run_id):
            n += journal.mark_run_resumed(store, now, actor, r.id)     # re-checked in its transaction
    return n


def _run(run_id: str) -> Callable[[Run | None], None]:
    def check(r: Run | None) -> None:
        if r is None:
            raise NotFoundError(f"no run {run_id}")
    return check


def approve_wave(store: Store, now: datetime, run_id: str, wave: str, actor: str) -> None:
    """Approve a wave: the run is read and written in one transaction, so concurrent approvals of different
    waves all stay (none is lost)."""
    def check(r: Run | None) -> None:
        _run(run_id)(r)
        assert r is not None
        specs = r.policy_snapshot["spec"].get("rollout", {}).get("waves", [])
        waves = [w["name"] for w in specs]
        if wave not in waves:
            raise NotFoundError(f"run {run_id} has no wave {wave!r} (waves: {', '.join(waves) or 'none'})")
        if next(w for w in specs if w["name"] == wave).get("approval") != "required":
            raise NothingToApproveError(f"wave {wave!r} of run {run_id} needs no approval (its policy does not "
                                        "require one): nothing was recorded")
    journal.mark_wave_approved(store, now, actor, run_id, wave, check)


def retry_run(store: Store, now: datetime, run_id: str, actor: str) -> int:
    """Re-queue only the clusters that failed in this run (read and written in one transaction). Idempotent:
    a run with nothing failed is left unchanged (no event, a finished run stays finished)."""
    return journal.mark_run_retried(store, now, actor, run_id, _run(run_id))
