"""Time budgets for computations driven by user input (issue #23): a reconcile tick, a plan, a report.

A :class:`Budget` is entered on the thread doing the work (``with budget:``); loops that a hostile input
could make long - the window search (per local day), the planner (per cluster), the engine (per run) -
call :func:`check` at points where stopping leaves nothing half-done. Past the deadline, or once
``cancel()`` was called from another thread (SIGTERM), ``check`` raises :class:`BudgetExceeded` naming
what was being done, and the caller abandons the computation there.

This is elapsed real time by nature (how long the process has been busy), not the injected clock of the
domain: it is read through ``time.monotonic`` here and nowhere else. Nothing here interrupts a blocking
call (a provider request); those are bounded by their own timeouts and, at shutdown, by the daemon's grace.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from fleet.errors import FleetError

__all__ = ["Budget", "BudgetExceeded", "check"]

_local = threading.local()


class BudgetExceeded(FleetError):
    """A computation ran past its budget (or was cancelled); the message says what it was doing."""


class Budget:
    def __init__(self, seconds: float | None, what: str):
        self.seconds = seconds
        self.what = what
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.doing = ""
        self._cancelled: str | None = None

    def cancel(self, why: str = "stopping") -> None:
        """Make the next ``check`` on the working thread raise (safe to call from any thread)."""
        self._cancelled = why

    def check(self, doing: str, detail: str = "") -> None:
        if detail:
            doing = f"{doing} {detail}"
        self.doing = doing
        if self._cancelled is not None:
            raise BudgetExceeded(f"{self.what} abandoned ({self._cancelled}) while {doing}")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded(f"{self.what} exceeded its budget of {self.seconds:g}s while {doing}")

    def __enter__(self) -> Budget:
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        _local.stack.remove(self)


def check(doing: str, detail: str = "") -> None:
    """Check every budget entered on this thread (innermost first); no budget: nothing happens. Called in
    hot loops: ``detail`` (a cluster id) is joined to ``doing`` only when a budget is active."""
    stack = getattr(_local, "stack", None)
    if stack:
        for b in reversed(stack):
            b.check(doing, detail)
