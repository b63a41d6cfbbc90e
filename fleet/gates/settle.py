"""Post-step gates over time. Pure: the evaluations so far in, a verdict out.

A post-step gate is *satisfied* once it has passed (or been overridden) without interruption for its
``settle`` period: a failing or erroring evaluation restarts the count. A satisfied gate is not evaluated
again for that step. A gate not satisfied ``timeout`` after the step entered its gates phase has *failed*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

PASSING = frozenset({"pass", "overridden"})
DEFAULT_INTERVAL = timedelta(seconds=30)     # how often an unsatisfied post-step gate is evaluated


@dataclass(frozen=True, slots=True)
class Seen:
    """One evaluation of a gate, as journaled."""
    at: datetime
    result: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Progress:
    state: str                          # satisfied | waiting | failed
    reason: str = ""
    next_at: datetime | None = None     # waiting: when to evaluate it again
    passing_since: datetime | None = None


def compute_progress(history: Sequence[Seen], settle: timedelta, timeout: timedelta, started: datetime,
                     now: datetime, interval: timedelta = DEFAULT_INTERVAL) -> Progress:
    """Where one gate stands: ``history`` is its evaluations for this step, oldest first."""
    since: datetime | None = None
    last_bad = ""
    for s in history:
        if s.result in PASSING:
            since = since or s.at
            if s.at - since >= settle:
                return Progress("satisfied", s.reason, passing_since=since)
        else:
            since, last_bad = None, f"{s.result}: {s.reason}" if s.reason else s.result
    deadline = started + timeout
    if now >= deadline:
        if since is not None:
            held = (history[-1].at - since) if history else timedelta(0)
            why = f"passed for {_fmt(held)} only, not the {_fmt(settle)} settle, within {_fmt(timeout)}"
        else:
            why = f"did not pass within {_fmt(timeout)}" + (f" (last: {last_bad})" if last_bad else "")
        return Progress("failed", why, passing_since=since)
    due = min(now + interval, deadline)
    if since is not None:
        due = min(due, max(now, since + settle))
    return Progress("waiting", last_bad, next_at=due, passing_since=since)


def _fmt(td: timedelta) -> str:
    s = int(td.total_seconds())
    if s % 3600 == 0 and s:
        return f"{s // 3600}h"
    if s % 60 == 0 and s:
        return f"{s // 60}m"
    return f"{s}s"
