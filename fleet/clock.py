"""Clocks. Nothing in fleet reads the wall clock except ``SystemClock``; everything else receives a Clock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait; a fake clock advances instead of waiting."""
        ...


class SystemClock:
    """The wall clock. The only place in fleet that reads real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A virtual clock for tests, simulations and forecasts. Thread-safe; ``sleep`` advances it."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=max(0.0, seconds)))

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now = self._now + delta
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant


class MonotonicSource(Protocol):
    """Real time as a ScaledClock reads it (SystemClock; tests inject a source they move by hand)."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class ScaledClock:
    """Virtual time that runs ``factor`` times faster than real time from ``start`` (demos, emulators, chaos
    benches). ``running=False``: time stands still at ``start`` until :meth:`go` (the demo seeds its clouds
    meanwhile); while it stands still, :meth:`advance_to` moves it (event-driven time: the demo jumps from one
    due event to the next, so the work done between events takes no virtual time). The daemon reads ``factor``
    to turn virtual delays into real timers. Thread-safe."""

    def __init__(self, start: datetime, factor: float, base: MonotonicSource | None = None, *,
                 running: bool = True):
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start")
        if factor <= 0:
            raise ValueError("factor must be positive")
        self._base: MonotonicSource = base or SystemClock()
        self._start = start
        self._lock = threading.Lock()
        self._t0: float | None = self._base.monotonic() if running else None
        self.factor = factor

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def running(self) -> bool:
        return self._t0 is not None

    def go(self) -> None:
        """Start virtual time (from ``start``) now; nothing when it runs already."""
        with self._lock:
            if self._t0 is None:
                self._t0 = self._base.monotonic()

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def advance_to(self, instant: datetime) -> datetime:
        """Stopped clocks only: move virtual time forward to ``instant`` (never back); returns the new now."""
        with self._lock:
            if self._t0 is not None:
                raise RuntimeError("advance_to needs a stopped clock (running=False); this one runs")
            if instant > self._start:
                self._start = instant
            return self._start

    def _now_locked(self) -> datetime:
        if self._t0 is None:
            return self._start
        return self._start + timedelta(seconds=(self._base.monotonic() - self._t0) * self.factor)

    def set_factor(self, factor: float) -> None:
        """Change the speed from now on; virtual time continues from where it is."""
        if factor <= 0:
            raise ValueError("factor must be positive")
        with self._lock:
            if self._t0 is not None:
                self._start = self._now_locked()
                self._t0 = self._base.monotonic()
            self.factor = factor

    def sleep(self, seconds: float) -> None:
        self._base.sleep(max(0.0, seconds) / self.factor)

    def wall_seconds(self, virtual: timedelta) -> float:
        """How long ``virtual`` takes in real seconds."""
        return virtual.total_seconds() / self.factor


def utc(dt: datetime) -> datetime:
    """Normalise to aware UTC (naive input is taken as UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``."""
    if dt is None:
        return None
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")
