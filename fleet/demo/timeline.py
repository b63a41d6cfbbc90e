"""Event-driven virtual time for the demo: the outcome does not depend on how fast the machine is.

The demo's clock (a stopped ``fleet.clock.ScaledClock``) stands still while the daemon works; the emulators and
the daemon's HTTP API read the same clock and keep serving. Each round:

1. run one reconcile: ``Daemon.tick()``, the very method APScheduler calls in ``fleet daemon`` (metrics, the
   API's cluster view, the risk list: everything a tick does);
2. compute the next due event as the daemon's scheduler would: the tick's own ``next_wake`` (an operation
   due for a poll, a soak ending, a window opening for a run's members), the next maintenance window opening
   (``Daemon.next_window_opening``) and the next interval tick, whichever comes first, rounded up to the next
   point of a ``GRID`` of virtual time from the scenario's start (the forecast's resolution: polls of
   clusters upgrading side by side are handled in one tick instead of one tick each, which keeps the number
   of ticks, each a full discovery of six clouds, small; window openings and interval ticks are on the grid);
3. pace: wait ``gap / speed`` real seconds minus the time the tick itself took (so the live view moves at
   about ``speed`` virtual seconds per real second; a slow machine just runs slower, never differently);
4. move virtual time to that event (``advance_to``), and repeat.

Operations in the emulators are functions of virtual time, so an operation that takes 15 simulated minutes
takes 15 simulated minutes however long the HTTP round trips took. The loop ends when the fleet is settled
(no active run, nothing left to upgrade, ``SETTLE_TICKS`` more ticks), when the virtual week is over, or
after ``max_ticks`` ticks; the result says which, and the demo prints it (there is no wall-clock limit).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import ScaledClock
from fleet.execution.driver import round_up
from fleet.execution.model import TickResult

SETTLE_TICKS = 2                 # ticks after the fleet looked settled before the demo ends
SAME_INSTANT_TICKS = 5           # ticks in a row at one instant (a step verified at once) before time moves on
NUDGE = timedelta(seconds=5)     # how far time moves after that many same-instant ticks (sm.MIN_POLL)
GRID = timedelta(minutes=5)      # wake-ups are rounded up to this grid (as in fleet.reports.forecast)
MAX_TICKS = 50_000               # a safety stop, reported when hit (the short demo needs about 300)

SETTLED, WEEK_OVER, TICK_LIMIT, STOPPED = "settled", "the virtual week is over", "tick limit reached", "stopped"


@dataclass
class Finish:
    reason: str                  # SETTLED | WEEK_OVER | TICK_LIMIT | STOPPED
    ticks: int
    at: datetime                 # virtual time at the end
    busy_s: float                # real seconds spent in ticks
    real_s: float                # real seconds of the whole loop


def compute_next_event(res: TickResult | None, now: datetime, interval: timedelta, opening: datetime | None,
                       *, origin: datetime, grid: timedelta | None = GRID) -> datetime:
    """The next instant the daemon ticks after a tick at ``now`` (pure): its interval, the tick's own wake-up,
    the next window opening, whichever is first, rounded up to ``grid`` from ``origin``; ``now`` itself when
    the tick asked to run again at once."""
    when = now + interval
    if res is not None:
        when = min(when, max(now, res.next_wake))
    if opening is not None and opening > now:
        when = min(when, opening)
    if when > now and grid is not None:
        when = round_up(when, origin, grid)
    return when


def fleet_settled(daemon: Any) -> bool:
    """No active run and nothing the plan still wants to upgrade."""
    plan = daemon.engine.last_plan
    if plan is None or daemon.store.runs(active_only=True):
        return False
    return all(c.status not in ("needs-upgrade", "blocked-by-gate") for c in plan.clusters)


def run_timeline(daemon: Any, clock: ScaledClock, end: datetime, *, speed: float,
                 on_tick: Callable[[], None] | None = None, wait: Callable[[float], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic, max_ticks: int = MAX_TICKS,
                 settled: Callable[[Any], bool] = fleet_settled, grid: timedelta | None = GRID,
                 origin: datetime | None = None, stop: Callable[[], bool] | None = None) -> Finish:
    """Drive ``daemon`` over virtual time until the fleet is settled, ``end``, ``max_ticks`` or ``stop()``.
    ``wait(seconds)`` paces the idle gaps (default: sleep); ``on_tick`` runs after every tick (the view)."""
    wait = wait or time.sleep
    origin = origin or clock.now()
    began = monotonic()
    busy = 0.0
    ticks = same = 0
    settled_at: int | None = None
    interval = daemon.engine.interval
    reason = STOPPED
    while True:
        t0 = monotonic()
        res = daemon.tick()
        ticks += 1
        took = monotonic() - t0
        busy += took
        if on_tick is not None:
            on_tick()
        now = clock.now()
        if settled(daemon):
            settled_at = ticks if settled_at is None else settled_at
            if ticks >= settled_at + SETTLE_TICKS:
                reason = SETTLED
                break
        else:
            settled_at = None
        if now >= end:
            reason = WEEK_OVER
            break
        if ticks >= max_ticks:
            reason = TICK_LIMIT
            break
        if stop is not None and stop():
            break
        nxt = compute_next_event(res, now, interval, daemon.next_window_opening(now, interval * 2),
                                 origin=origin, grid=grid)
        if nxt <= now:
            same += 1
            if same < SAME_INSTANT_TICKS:
                continue
            nxt = now + NUDGE
        same = 0
        nxt = min(nxt, end)
        gap = (nxt - now).total_seconds() / speed - took
        if gap > 0:
            wait(gap)
        clock.advance_to(nxt)
    return Finish(reason, ticks, clock.now(), busy, monotonic() - began)
