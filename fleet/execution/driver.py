"""The virtual-time driver: run the real engine over simulated time, jumping from one wake-up to the next.

Shared by the forecast (fleet.reports.forecast), the engine tests and the rollout benchmark. Each round:
tick (``engine.reconcile()``), let ``on_tick`` look at the result, stop when ``stop(result)`` says so or the
clock reached ``until``, else move the clock to the tick's ``next_wake``:

* ``grid``: wake-ups are rounded up to a grid of this step from ``origin`` (the forecast's resolution), so
  steps finishing close together are handled in one tick;
* a tick that wants to run again at once (``next_wake`` not in the future) is repeated at the same instant
  up to ``same_instant`` times (e.g. a finished step is verified on the next tick), then the clock moves on
  by ``idle`` (so a busy engine cannot stall virtual time);
* never beyond ``until``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from fleet.execution.model import TickResult

IDLE_STEP = timedelta(seconds=1)


class _Engine(Protocol):
    def reconcile(self) -> TickResult: ...


class _Clock(Protocol):
    def now(self) -> datetime: ...

    def set(self, instant: datetime) -> None: ...


def round_up(t: datetime, origin: datetime, grid: timedelta) -> datetime:
    """The first grid point (origin + k * grid) at or after ``t``."""
    steps = -(-(t - origin) // grid)
    return origin + steps * grid


def compute_next_wake(res: TickResult, now: datetime, *, grid: timedelta | None, origin: datetime,
                      idle: timedelta) -> datetime:
    if res.next_wake <= now:
        return now + idle
    return round_up(res.next_wake, origin, grid) if grid is not None else res.next_wake


def drive(engine: _Engine, clock: _Clock, *, stop: Callable[[TickResult], bool] | None = None,
          until: datetime | None = None, max_ticks: int = 5000, grid: timedelta | None = None,
          origin: datetime | None = None, idle: timedelta = IDLE_STEP, same_instant: int = 0,
          on_tick: Callable[[TickResult], None] | None = None) -> int:
    """Tick in virtual time until ``stop``, ``until`` or ``max_ticks``; returns the ticks run."""
    origin = origin or clock.now()
    ticks = repeats = 0
    while ticks < max_ticks:
        res = engine.reconcile()
        ticks += 1
        if on_tick is not None:
            on_tick(res)
        if stop is not None and stop(res):
            break
        now = clock.now()
        if until is not None and now >= until:
            break
        if res.next_wake <= now and repeats < same_instant:
            repeats += 1
            continue
        repeats = 0
        nxt = compute_next_wake(res, now, grid=grid, origin=origin, idle=idle)
        clock.set(min(nxt, until) if until is not None else nxt)
    return ticks
