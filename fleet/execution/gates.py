"""Gates: may a run's wave proceed, may a member start now, and when to look again. Pure: data in, decision out.

* ``compute_wave_gate``: which waves just completed (every member finished), whether the whole run finished
  (and as done or failed), which wave is current, and whether its pending members may start (the wave
  before it has soaked, and it is approved if it requires approval).
* ``run_may_dispatch``: no new step starts while the fleet is paused, the run is halted, or no wave is open.
* ``compute_window``: whether a step may start now under the run's maintenance schedule, else when it may.
* ``free_slots`` / ``startable``: how many more members may hold a slot (maxConcurrentClusters), and the
  pending members of the current wave that may take one, in order.

Windows gate the start of a step, never its completion. No function here reads or writes the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from fleet.execution.model import Member, MemberStatus, RunStatus

OPEN_MEMBER = (MemberStatus.PENDING, MemberStatus.ACTIVE)


class WaveSpec(Protocol):
    """What a gate needs of a policy's wave (fleet.policy.models.Wave)."""
    @property
    def name(self) -> str: ...
    @property
    def soak(self) -> timedelta: ...
    @property
    def approval(self) -> str: ...


class WindowSchedule(Protocol):
    """What a gate needs of a maintenance schedule (fleet.planning.windows.Schedule)."""
    def allows(self, now: datetime, minor: bool) -> bool: ...
    def next_allowed(self, now: datetime, minor: bool) -> _Interval | None: ...


class _Interval(Protocol):
    @property
    def start(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class WaveGate:
    current: int | None                 # index of the first wave with unfinished members; None: all finished
    may_start: bool                     # pending members of the current wave may start (soaked, approved)
    wake: datetime | None               # when the gate may open by itself (the end of a soak)
    wave_done_at: Mapping[str, str]     # wave name -> ISO time it completed, including the waves just completed
    newly_done: tuple[str, ...]         # waves that completed at this call, in event order
    finished: RunStatus | None          # DONE or FAILED when no member is left to work on

    @property
    def changed(self) -> bool:
        """Something to journal: a wave completed or the run finished."""
        return bool(self.newly_done) or self.finished is not None


def compute_wave_gate(waves: Sequence[WaveSpec], members: Iterable[Member], wave_done_at: Mapping[str, str],
                      approved: Sequence[str], now: datetime) -> WaveGate:
    members = list(members)
    open_idx = sorted({m.wave_index for m in members if m.status in OPEN_MEMBER})
    present = sorted({(m.wave_index, m.wave) for m in members})
    done_at = dict(wave_done_at)
    for idx, name in present:
        if idx not in open_idx and name not in done_at:
            done_at[name] = now.isoformat()
    newly_done = tuple(name for _idx, name in present if name in done_at and name not in wave_done_at)
    if not open_idx:
        failed = any(m.status is MemberStatus.FAILED for m in members)
        return WaveGate(None, False, None, done_at, newly_done, RunStatus.FAILED if failed else RunStatus.DONE)
    current = open_idx[0]
    before = [(i, n) for i, n in present if i < current]
    if before:                          # the soak of the wave just before, if it is part of this run
        idx, name = before[-1]
        soak = waves[idx].soak if idx < len(waves) else timedelta(0)
        ends = datetime.fromisoformat(done_at[name]) + soak
        if now < ends:
            return WaveGate(current, False, ends, done_at, newly_done, None)
    if current < len(waves) and waves[current].approval == "required" and waves[current].name not in approved:
        return WaveGate(current, False, None, done_at, newly_done, None)
    return WaveGate(current, True, None, done_at, newly_done, None)


def run_may_dispatch(paused: bool, status: RunStatus, gate: WaveGate) -> bool:
    """May any step of the run start this tick (members between steps, or pending ones)?"""
    return not paused and status is RunStatus.RUNNING and gate.current is not None


@dataclass(frozen=True, slots=True)
class WindowGate:
    open: bool
    wake: datetime | None = None        # the next opening, when closed and one is known


def compute_window(schedule: WindowSchedule, now: datetime, minor: bool) -> WindowGate:
    if schedule.allows(now, minor):
        return WindowGate(True)
    opening = schedule.next_allowed(now, minor)
    return WindowGate(False, opening.start if opening is not None and opening.start > now else None)


def free_slots(max_concurrent: int, members: Iterable[Member]) -> int:
    """Slots left under maxConcurrentClusters: every active member holds one until it finishes."""
    return max_concurrent - sum(1 for m in members if m.status is MemberStatus.ACTIVE)


def startable(members: Iterable[Member], wave_index: int) -> list[Member]:
    """The pending members of the current wave, in the run's order: candidates for a free slot."""
    return [m for m in members if m.status is MemberStatus.PENDING and m.wave_index == wave_index]
