"""ScaledClock: virtual time at a factor of real time (the demo's, the emulators' and the chaos bench's clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.clock import ScaledClock
from fleet.demo.scenario import WEEK_PER_MINUTE

T0 = datetime(2026, 11, 23, tzinfo=UTC)


class SteppedBase:
    """A monotonic source the test moves by hand (the ScaledClock's injected base)."""

    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


# ---- clock ----------------------------------------------------------------------------------------------

def test_scaled_clock_stands_still_until_go_then_runs_at_its_factor() -> None:
    base = SteppedBase()
    c = ScaledClock(T0, 600, base=base, running=False)  # type: ignore[arg-type]
    base.t += 50
    assert c.now() == T0 and not c.running
    c.go()
    base.t += 2
    assert c.now() == T0 + timedelta(seconds=1200)
    c.sleep(600)
    assert base.slept == [1.0]
    assert c.wall_seconds(timedelta(hours=1)) == 6.0


def test_scaled_clock_changes_speed_without_a_jump() -> None:
    base = SteppedBase()
    c = ScaledClock(T0, WEEK_PER_MINUTE, base=base, running=False)  # type: ignore[arg-type]
    c.go()
    base.t += 60
    assert c.now() == T0 + timedelta(days=7)
    c.set_factor(1.0)
    assert c.now() == T0 + timedelta(days=7)
    base.t += 30
    assert c.now() == T0 + timedelta(days=7, seconds=30)
    with pytest.raises(ValueError):
        c.set_factor(0)
    with pytest.raises(ValueError):
        ScaledClock(datetime(2026, 1, 1), 10)


def test_scaled_clock_runs_from_construction_by_default() -> None:
    base = SteppedBase()
    c = ScaledClock(T0, 60, base=base)
    assert c.running
    base.t += 1
    assert c.now() == T0 + timedelta(minutes=1)
