"""fleet.demo.timeline: virtual time moves only between ticks, to the next due event on the grid; how long a
tick takes in real time changes nothing; every way the loop ends is reported."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.clock import ScaledClock
from fleet.demo.timeline import SETTLED, TICK_LIMIT, WEEK_OVER, compute_next_event, run_timeline
from fleet.execution.model import TickResult

T0 = datetime(2026, 11, 23, tzinfo=UTC)
H = timedelta(hours=1)


def test_next_event_is_the_first_of_interval_wake_and_opening_rounded_up_to_the_grid() -> None:
    now = T0 + timedelta(minutes=7)
    res = TickResult(at=now, next_wake=now + timedelta(seconds=60))
    # a poll due in 60 s: the next 5-minute grid point after it (T0 + 10 min)
    assert compute_next_event(res, now, H, None, origin=T0) == T0 + timedelta(minutes=10)
    # a window opening before the poll wins
    assert compute_next_event(TickResult(at=now, next_wake=now + H), now, H, T0 + timedelta(minutes=9),
                              origin=T0) == T0 + timedelta(minutes=10)
    # nothing due: the interval (on the grid from T0)
    assert compute_next_event(TickResult(at=now, next_wake=now + 2 * H), now, H, None, origin=T0) == \
        T0 + timedelta(minutes=70)
    # a failed tick (None): the interval
    assert compute_next_event(None, now, H, None, origin=T0) == T0 + timedelta(minutes=70)
    # asked to run again at once: now (no rounding)
    assert compute_next_event(TickResult(at=now, next_wake=now), now, H, None, origin=T0) == now
    # no grid: exact
    assert compute_next_event(res, now, H, None, origin=T0, grid=None) == now + timedelta(seconds=60)


@dataclass
class _Engine:
    interval: timedelta = H
    last_plan: Any = None


@dataclass
class StubDaemon:
    """Ticks like the daemon: an operation started at the first tick ends 17 minutes later; polls every 60 s;
    the tick takes a random amount of real time (a loaded machine)."""
    clock: ScaledClock
    jitter_s: float
    engine: _Engine = field(default_factory=_Engine)
    seen: list[datetime] = field(default_factory=list)
    done_at: datetime | None = None

    def tick(self) -> TickResult:
        now = self.clock.now()
        time.sleep(random.uniform(0, self.jitter_s))
        self.seen.append(now)
        if self.done_at is None and now >= T0 + timedelta(minutes=17):
            self.done_at = now
            return TickResult(at=now, next_wake=now)         # verify at once
        return TickResult(at=now, next_wake=now + (timedelta(seconds=60) if self.done_at is None else 3 * H))

    def next_window_opening(self, now: datetime, horizon: timedelta) -> datetime | None:
        return None


def _run(jitter: float, **kw: Any) -> tuple[StubDaemon, Any]:
    clock = ScaledClock(T0, 10_080, running=False)
    d = StubDaemon(clock, jitter)
    fin = run_timeline(d, clock, kw.pop("end", T0 + timedelta(days=1)), speed=1e9, origin=T0,
                       settled=kw.pop("settled", lambda d: d.done_at is not None), **kw)
    return d, fin


def test_a_slow_tick_changes_nothing_only_the_real_time() -> None:
    fast, f1 = _run(0.0)
    slow, f2 = _run(0.02)
    assert fast.seen == slow.seen and (f1.reason, f1.ticks, f1.at) == (f2.reason, f2.ticks, f2.at)
    # polls on the 5-minute grid up to the end at 17 min (seen at 20), then the same instant twice more
    assert fast.seen[:6] == [T0 + timedelta(minutes=m) for m in (0, 5, 10, 15, 20, 20)]
    assert f1.reason == SETTLED and fast.done_at == T0 + timedelta(minutes=20)
    assert f2.busy_s > 0


def test_the_loop_says_why_it_stopped() -> None:
    _, fin = _run(0.0, settled=lambda d: False, end=T0 + timedelta(hours=6))
    assert fin.reason == WEEK_OVER and fin.at == T0 + timedelta(hours=6)
    _, fin = _run(0.0, settled=lambda d: False, max_ticks=3)
    assert fin.reason == TICK_LIMIT and fin.ticks == 3


def test_the_idle_gaps_are_paced_at_the_speed() -> None:
    clock = ScaledClock(T0, 3600, running=False)
    d = StubDaemon(clock, 0.0)
    waits: list[float] = []
    run_timeline(d, clock, T0 + timedelta(days=1), speed=3600, origin=T0, wait=waits.append,
                 settled=lambda d: d.done_at is not None)
    # four 5-minute polls, then the hour to the interval tick, at 3600 virtual seconds per real second (less
    # each tick's own real time)
    assert len(waits) == 5
    assert all(0.8 * 300 / 3600 < w <= 300 / 3600 for w in waits[:4])
    assert 0.8 < waits[4] <= 1.0
