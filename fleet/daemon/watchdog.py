"""The daemon's watchdog (issue #23): is the reconcile loop making progress, and is this replica ready?

Readiness (``/readyz``, and the ``fleet_ready`` gauge) fails, with the reason, when

* the acting replica has completed no reconcile within ``stale_after`` (a few intervals, and never less
  than the tick budget): the loop is wedged, or every tick fails;
* the active policy set is invalid (the engine keeps the last valid set and says why);
* the last tick could not write to the state store, or (fleet.daemon.service) a write probe is refused;
* a tick has been running past its budget.

Leadership follows progress: :meth:`progressing` is the elector's health check, so a leader whose ticks stop
completing stops renewing its lease and a standby takes over.

Times are elapsed real time (``monotonic``), converted from the domain's virtual durations by the clock's
scale factor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

STALE_INTERVALS = 3


class Watchdog:
    def __init__(self, *, interval_s: float, budget_s: float, monotonic: Callable[[], float]):
        self.interval_s = interval_s
        self.budget_s = budget_s
        self.stale_after = max(STALE_INTERVALS * interval_s, budget_s) + interval_s
        self._mono = monotonic
        self._lock = threading.Lock()
        self.started_at = monotonic()          # the grace for the first tick counts from here
        self.running_since: float | None = None
        self.doing = ""
        self.last_ok: float | None = None
        self.last_error: str | None = None     # the last tick's failure (None: it succeeded)
        self.cannot_write: str | None = None
        self.leading_since: float | None = None

    # ---- events from the daemon ---------------------------------------------------------------------
    def became_leader(self) -> None:
        self.leading_since = self._mono()

    def lost_leadership(self) -> None:
        self.leading_since = None

    def tick_started(self) -> None:
        with self._lock:
            self.running_since = self._mono()

    def tick_finished(self, error: str | None = None, *, write_error: str | None = None) -> None:
        with self._lock:
            self.running_since = None
            self.last_error = error
            self.cannot_write = write_error
            if error is None:
                self.last_ok = self._mono()

    # ---- checks ---------------------------------------------------------------------------------------
    def overdue(self, acting: bool) -> str | None:
        """Why the loop is not progressing (a tick past its budget; while acting, no tick completed lately)."""
        now = self._mono()
        since = self.running_since
        if since is not None and now - since > self.budget_s:
            return f"a reconcile has been running for {now - since:.0f}s (budget {self.budget_s:g}s)"
        if not acting:
            return None
        ref = self.last_ok
        if self.leading_since is not None and (ref is None or ref < self.leading_since):
            ref = self.leading_since
        if ref is None:
            ref = self.started_at
        if now - ref > self.stale_after:
            return f"no reconcile completed for {now - ref:.0f}s (limit {self.stale_after:g}s)"
        return None

    def health(self) -> str | None:
        """The elector's health check: the lease is renewed (or taken) only while this is None."""
        return self.overdue(acting=self.leading_since is not None)

    def ready(self, *, acting: bool, policy_problem: str | None) -> tuple[bool, str]:
        if policy_problem:
            return False, f"the active policy set is invalid (the last valid set is kept): {policy_problem}"[:2000]
        if not acting:
            return True, "ok"
        if self.cannot_write:
            return False, f"the state store refused the last write: {self.cannot_write}"
        overdue = self.overdue(acting=True)
        if overdue:
            return False, overdue
        if self.last_ok is None:
            return False, "no reconcile has completed yet" + (f" (last: {self.last_error})" if self.last_error else "")
        return True, "ok"
