"""Time budgets for computations driven by user input (issue #23): a reconcile tick, a plan, a report, a
forecast.

A :class:`Budget` is entered on the thread doing the work (``with budget:``); loops that a hostile input
could make long - the window search (per local day), the planner (per cluster), the engine (per run, per
step settled or dispatched) - call :func:`check` at points where stopping leaves nothing half-done. Past the
deadline, or once ``cancel()`` was called from another thread (SIGTERM), ``check`` raises
:class:`BudgetExceeded` naming what was being done, and the caller abandons the computation there.

Items: a budget entered with ``item_seconds`` also bounds each *item* of the work - one run of a reconcile,
one cluster's plan - on its own. The engine and the planner wrap each item in :func:`item`; an item past its
own budget is abandoned alone at its next safe point (``Item.exceeded`` says why, naming the run or cluster
and what it was doing) and the work goes on with the next item. The enclosing budget still bounds the whole
(its deadline, or a cancel, abandons everything as before). Without an enclosing ``item_seconds``, ``item``
does nothing.

This is elapsed real time by nature (how long the process has been busy), not the injected clock of the
domain: it is read through ``time.monotonic`` here and nowhere else. Nothing here interrupts a blocking
call (a provider request); those are bounded by their own timeouts and, at shutdown, by the daemon's grace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from fleet.errors import FleetError

__all__ = ["Budget", "BudgetExceeded", "Item", "check", "item"]

_local = threading.local()


class BudgetExceeded(FleetError):
    """A computation ran past its budget (or was cancelled); the message says what it was doing."""

    def __init__(self, message: str, budget: Budget | None = None):
        super().__init__(message)
        self.budget = budget


class Budget:
    def __init__(self, seconds: float | None, what: str, *, item_seconds: float | None = None):
        self.seconds = seconds
        self.what = what
        self.item_seconds = item_seconds
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
            raise BudgetExceeded(f"{self.what} abandoned ({self._cancelled}) while {doing}", self)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded(f"{self.what} exceeded its budget of {self.seconds:g}s while {doing}", self)

    def __enter__(self) -> Budget:
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        _local.stack.remove(self)


def check(doing: str, detail: str = "") -> None:
    """Check every budget entered on this thread, outermost first (an enclosing deadline or cancel abandons
    the whole computation even when an item's own budget ran out too); no budget: nothing happens. Called in
    hot loops: ``detail`` (a cluster id) is joined to ``doing`` only when a budget is active."""
    stack = getattr(_local, "stack", None)
    if stack:
        for b in stack:
            b.check(doing, detail)


class Item:
    """What :func:`item` yields: ``exceeded`` is set when the item was abandoned past its own budget."""

    __slots__ = ("exceeded",)

    def __init__(self) -> None:
        self.exceeded: BudgetExceeded | None = None


@contextmanager
def item(what: str) -> Iterator[Item]:
    """Run one item of the work under its own budget (the innermost budget's ``item_seconds``). Its own
    overrun is caught here and left in ``Item.exceeded``; an enclosing budget's overrun or cancel propagates."""
    it = Item()
    stack = getattr(_local, "stack", None)
    seconds = stack[-1].item_seconds if stack else None
    if seconds is None:
        yield it
        return
    own = Budget(seconds, what)
    try:
        with own:
            yield it
    except BudgetExceeded as exc:
        if exc.budget is not own:
            raise
        it.exceeded = exc
