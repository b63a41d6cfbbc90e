"""The demo's clock: virtual time that stands still at the scenario start while the clouds are set up and
seeded, then runs ``factor`` times faster than real time (the daemon reads ``factor`` to scale its timers)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from fleet.clock import SystemClock

WEEK_PER_MINUTE = 7 * 24 * 3600 / 60      # 10,080 virtual seconds per real second


class DemoClock:
    def __init__(self, start: datetime, factor: float = WEEK_PER_MINUTE, base: SystemClock | None = None):
        if start.tzinfo is None:
            raise ValueError("DemoClock needs a timezone-aware start")
        if factor <= 0:
            raise ValueError("factor must be positive")
        self._base = base or SystemClock()
        self._start = start
        self._t0: float | None = None
        self._lock = threading.Lock()
        self.factor = factor

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def running(self) -> bool:
        return self._t0 is not None

    def go(self) -> None:
        """Start virtual time (from ``start``) now."""
        with self._lock:
            if self._t0 is None:
                self._t0 = self._base.monotonic()

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

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
