"""fleet.execution.gates: table tests (pure functions, no store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from fleet.execution.gates import (
    WaveGate,
    compute_wave_gate,
    compute_window,
    free_slots,
    run_may_dispatch,
    startable,
)
from fleet.execution.model import Member, MemberStatus, RunStatus
from fleet.planning.windows import Interval

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
P, A, D, F, B = (MemberStatus.PENDING, MemberStatus.ACTIVE, MemberStatus.DONE, MemberStatus.FAILED,
                 MemberStatus.BLOCKED)


@dataclass
class Wave:
    name: str
    soak: timedelta = timedelta(0)
    approval: str = "none"


WAVES = [Wave("canary"), Wave("main", soak=timedelta(hours=2)), Wave("late", approval="required")]


def members(*spec: tuple[str, int, MemberStatus]) -> list[Member]:
    return [Member("r", f"c{i}", "sim", wave, idx, status) for i, (wave, idx, status) in enumerate(spec)]


def iso(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


@pytest.mark.parametrize(("case", "ms", "done_at", "approved", "want"), [
    ("first wave starts", members(("canary", 0, P), ("main", 1, P)), {}, (),
     WaveGate(0, True, None, {}, (), None)),
    ("a wave just completed; the next soaks after the one before it (canary: no soak)",
     members(("canary", 0, D), ("main", 1, P)), {}, (),
     WaveGate(1, True, None, {"canary": NOW.isoformat()}, ("canary",), None)),
    ("soaking after main", members(("main", 1, D), ("late", 2, P)), {"main": iso(-timedelta(hours=1))}, ("late",),
     WaveGate(2, False, NOW + timedelta(hours=1), {"main": iso(-timedelta(hours=1))}, (), None)),
    ("soaked, but late requires approval", members(("main", 1, D), ("late", 2, P)),
     {"main": iso(-timedelta(hours=3))}, (), WaveGate(2, False, None, {"main": iso(-timedelta(hours=3))}, (), None)),
    ("soaked and approved", members(("main", 1, D), ("late", 2, P)), {"main": iso(-timedelta(hours=3))}, ("late",),
     WaveGate(2, True, None, {"main": iso(-timedelta(hours=3))}, (), None)),
    ("an active member keeps its wave open", members(("canary", 0, A), ("main", 1, P)), {}, (),
     WaveGate(0, True, None, {}, (), None)),
    ("every member finished, one failed: the run failed",
     members(("canary", 0, D), ("main", 1, F), ("main", 1, B)), {"canary": iso(-timedelta(hours=1))}, (),
     WaveGate(None, False, None, {"canary": iso(-timedelta(hours=1)), "main": NOW.isoformat()}, ("main",),
              RunStatus.FAILED)),
    ("every member done: the run is done", members(("canary", 0, D)), {}, (),
     WaveGate(None, False, None, {"canary": NOW.isoformat()}, ("canary",), RunStatus.DONE)),
    ("a wave past the policy's list (default) soaks nothing", members(("x", 3, D), ("y", 4, P)), {"x": NOW.isoformat()},
     (), WaveGate(4, True, None, {"x": NOW.isoformat()}, (), None)),
])
def test_wave_gate(case, ms, done_at, approved, want):
    got = compute_wave_gate(WAVES, ms, done_at, approved, NOW)
    assert got == want, case
    assert got.changed == (bool(want.newly_done) or want.finished is not None)


@pytest.mark.parametrize(("paused", "status", "current", "want"), [
    (False, RunStatus.RUNNING, 0, True),
    (True, RunStatus.RUNNING, 0, False),
    (False, RunStatus.HALTED, 0, False),
    (False, RunStatus.RUNNING, None, False),
])
def test_run_may_dispatch(paused, status, current, want):
    gate = WaveGate(current, True, None, {}, (), None)
    assert run_may_dispatch(paused, status, gate) is want


class Schedule:
    """Open for patch steps from ``patch`` on, for minor steps from ``minor`` on."""

    def __init__(self, patch: datetime | None, minor: datetime | None):
        self.opens = {False: patch, True: minor}

    def allows(self, now: datetime, minor: bool) -> bool:
        at = self.opens[minor]
        return at is not None and at <= now

    def next_allowed(self, now: datetime, minor: bool) -> Interval | None:
        at = self.opens[minor]
        return None if at is None else Interval(at, at + timedelta(hours=1))


@pytest.mark.parametrize(("patch", "minor", "is_minor", "want_open", "want_wake"), [
    (NOW, NOW, True, True, None),
    (NOW, NOW + timedelta(hours=3), False, True, None),
    (NOW, NOW + timedelta(hours=3), True, False, NOW + timedelta(hours=3)),   # wake exactly at the opening
    (NOW, None, True, False, None),                                           # never: no wake
])
def test_window(patch, minor, is_minor, want_open, want_wake):
    w = compute_window(Schedule(patch, minor), NOW, is_minor)
    assert (w.open, w.wake) == (want_open, want_wake)


@pytest.mark.parametrize(("statuses", "limit", "want"), [
    ((P, P, P), 2, 2), ((A, P, P), 2, 1), ((A, A, D, F), 2, 0), ((A, A, A), 2, -1),
])
def test_free_slots(statuses, limit, want):
    assert free_slots(limit, members(*[("w", 0, s) for s in statuses])) == want


def test_startable_is_the_pending_members_of_the_wave_in_order():
    ms = members(("a", 0, P), ("a", 0, A), ("b", 1, P), ("a", 0, P), ("a", 0, D))
    assert [m.cluster_id for m in startable(ms, 0)] == ["c0", "c3"]
    assert [m.cluster_id for m in startable(ms, 1)] == ["c2"]
