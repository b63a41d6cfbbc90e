"""fleet.execution.driver: where the clock moves after a tick, and when driving stops (a scripted engine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.clock import FakeClock
from fleet.execution.driver import compute_next_wake, drive, round_up
from fleet.execution.model import TickResult

T0 = datetime(2026, 1, 5, tzinfo=UTC)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
GRID = 5 * M


@pytest.mark.parametrize(("t", "want"), [(T0, T0), (T0 + M, T0 + GRID), (T0 + GRID, T0 + GRID),
                                         (T0 + GRID + timedelta(seconds=1), T0 + 2 * GRID)])
def test_round_up(t, want):
    assert round_up(t, T0, GRID) == want


@pytest.mark.parametrize(("wake", "grid", "idle", "want"), [
    (T0 + 7 * M, None, timedelta(seconds=1), T0 + 7 * M),
    (T0 + 7 * M, GRID, GRID, T0 + 10 * M),
    (T0, None, timedelta(seconds=1), T0 + timedelta(seconds=1)),     # due now: move on by idle
    (T0 - M, GRID, GRID, T0 + GRID),
])
def test_next_wake(wake, grid, idle, want):
    assert compute_next_wake(TickResult(T0, wake), T0, grid=grid, origin=T0, idle=idle) == want


class Scripted:
    """An engine whose ticks ask to wake after the given delays (then every hour)."""

    def __init__(self, clock: FakeClock, delays: list[timedelta]):
        self.clock, self.delays, self.at = clock, list(delays), []

    def reconcile(self) -> TickResult:
        now = self.clock.now()
        self.at.append(now)
        delay = self.delays.pop(0) if self.delays else timedelta(hours=1)
        return TickResult(now, now + delay, active_runs=1)


@pytest.mark.parametrize(("kw", "want"), [
    # due at once: on by a second; then 2 minutes; never past ``until``
    ({"until": T0 + 3 * M}, [T0, T0 + S, T0 + 2 * S, T0 + 2 * M + 2 * S, T0 + 3 * M]),
    # due at once: tick again at the same instant (twice), then move on
    ({"until": T0 + 3 * M, "same_instant": 2}, [T0, T0, T0, T0 + 2 * M, T0 + 3 * M]),
    # the forecast's 5-minute grid: due at once moves on by GRID; 2 minutes round up to the next grid point
    ({"until": T0 + 20 * M, "grid": GRID, "idle": GRID}, [T0, T0 + GRID, T0 + 2 * GRID, T0 + 3 * GRID, T0 + 4 * GRID]),
    ({"max_ticks": 2}, [T0, T0 + S]),
])
def test_drive(kw, want):
    clock = FakeClock(T0)
    eng = Scripted(clock, [timedelta(0), timedelta(0), 2 * M, 2 * M, 2 * M])
    assert drive(eng, clock, **kw) == len(want)
    assert eng.at == want


def test_drive_stops_when_told_and_calls_on_tick_first():
    clock = FakeClock(T0)
    eng = Scripted(clock, [])
    seen: list[datetime] = []
    assert drive(eng, clock, on_tick=lambda r: seen.append(r.at), stop=lambda r: r.at >= T0 + timedelta(hours=2)) == 3
    assert seen == eng.at == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
