"""The lease interface of leader election, shared by its back-ends (fleet.daemon.leader.DatabaseLease and
fleet.daemon.lease_k8s.KubernetesLease): :class:`LeaderElector` holds the state, deadlines, fencing,
callbacks and the renew thread; a back-end implements one attempt (``_attempt(now) -> Grant | None``) and
``_release(now)``. See fleet.daemon.leader for how election and fencing work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import Clock
from fleet.state.store import Store

log = logging.getLogger("fleet.leader")

NO_EPOCH = -1            # the fence of a replica that holds no lease: no lease row ever carries it
RENEW_FRACTION = 3       # renew every duration / 3
DEADLINE_FRACTION = 2 / 3  # stop acting when no renewal succeeded for 2/3 of the duration


@dataclass(frozen=True)
class Grant:
    """The lease is ours at ``epoch``; ``previous`` held it before (None: the lease was new)."""

    epoch: int
    previous: str | None


def default_identity() -> str:
    """hostname-pid-random: unique per process, so a restarted replica is a new holder (a new epoch)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class LeaderElector:
    """The common part: state, deadlines, fencing, callbacks and the renew thread. Back-ends implement
    ``_attempt(now) -> Grant | None`` (None: somebody else holds the lease; an exception: we cannot tell) and
    ``_release(now)``."""

    backend = "base"

    def __init__(self, name: str, identity: str, duration: timedelta, clock: Clock, *,
                 store: Store | None = None, engine: Any = None):
        if duration <= timedelta(0):
            raise ValueError("the lease duration must be positive")
        self.name = name
        self.identity = identity
        self.duration = duration
        self.clock = clock
        self.renew_every = duration / RENEW_FRACTION
        self.renew_deadline = duration * DEADLINE_FRACTION
        self.store = store
        self.engine = engine
        self.epoch = 0
        self.holder: str | None = None          # the holder last seen
        self.acquired_at: datetime | None = None
        self.transition_lock: Any = contextlib.nullcontext()   # the daemon passes its tick lock
        self.on_acquire: list[Callable[[int, str | None], None]] = []   # run under transition_lock
        self.on_lose: list[Callable[[str], None]] = []
        # the daemon's watchdog (fleet.daemon.watchdog): the lease is renewed or taken only while it answers
        # None; otherwise it says why the reconcile loop is not progressing and the lease is let go
        self.health: Callable[[], str | None] = lambda: None
        self._leader = False
        self._deadline: datetime | None = None
        self._attempted_at: datetime | None = None   # when the last attempt began (the renew schedule's anchor)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if store is not None:
            store.fence = (name, NO_EPOCH)      # nothing is written before the lease is won

    # ---- the interface ----------------------------------------------------------------------------
    def is_leader(self) -> bool:
        deadline = self._deadline
        return self._leader and deadline is not None and self.clock.now() < deadline

    def start(self) -> None:
        """One attempt now (a lone replica acts at once), then renew in the background."""
        self.step()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=f"lease-{self.name}", daemon=True)
            self._thread.start()

    def release(self) -> None:
        """Stop renewing and give the lease up so a standby takes over at once."""
        self._halt_thread()
        with self._lock:
            if not self._leader:
                return
            now = self.clock.now()
            try:
                self._release(now)
            except Exception as exc:  # noqa: BLE001 - the lease then simply expires
                log.warning("lease release failed; it will expire", extra={"reason": exc.__class__.__name__})
            self._lose("released")

    def abandon(self) -> None:
        """Stop renewing WITHOUT releasing, as a process killed with SIGKILL or frozen would (tests, chaos)."""
        self._halt_thread()

    # ---- one round ----------------------------------------------------------------------------------
    def step(self) -> bool:
        """Try to acquire or renew once; returns whether this replica may act."""
        with self._lock:
            now = self.clock.now()
            self._attempted_at = now
            if self._leader and not self.is_leader():
                self._lose("the lease was not renewed before its deadline")
            wedged = self.health()
            if wedged is not None:     # a wedged loop must not hold (or take) the lease: a standby takes over
                if self._leader:
                    self._lose(f"the reconcile loop is not progressing: {wedged}")
                return False
            try:
                grant = self._attempt(now)
            except Exception as exc:  # noqa: BLE001 - an unreachable store or API server: keep trying
                log.warning("lease attempt failed", extra={"reason": f"{exc.__class__.__name__}: {exc}"[:300]})
                return self.is_leader()
            if grant is None:
                if self._leader:
                    self._lose(f"the lease is held by {self.holder}")
                return False
            if self._leader and grant.epoch == self.epoch:
                self._deadline = now + self.renew_deadline
                return True
            if self._leader:
                self._lose(f"the lease moved to epoch {grant.epoch}")
            self._acquire(now, grant)
            return True

    def _acquire(self, now: datetime, grant: Grant) -> None:
        with self.transition_lock:
            self.epoch = grant.epoch
            self.holder = self.identity
            if self.engine is not None:
                self.engine.epoch = grant.epoch
            if self.store is not None:
                self.store.fence = (self.name, grant.epoch)
            for cb in self.on_acquire:
                cb(grant.epoch, grant.previous)
            self.acquired_at = now
            self._deadline = now + self.renew_deadline
            self._leader = True
        log.info("leadership acquired", extra={"epoch": grant.epoch, "path": self.name,
                                               "reason": f"previous holder: {grant.previous or 'none'}"})

    def _lose(self, why: str) -> None:
        # no lock here: fence at once, even while a tick is running (its next write fails)
        self._leader = False
        self._deadline = None
        if self.store is not None:
            self.store.fence = (self.name, NO_EPOCH)
        log.warning("leadership lost", extra={"epoch": self.epoch, "path": self.name, "reason": why})
        for cb in self.on_lose:
            cb(why)

    # ---- the renew thread -----------------------------------------------------------------------------
    def _wall_seconds(self, virtual: timedelta) -> float:
        factor = float(getattr(self.clock, "factor", 1.0)) or 1.0
        return max(0.01, virtual.total_seconds() / factor)

    def _until_next_attempt(self) -> float:
        """Real seconds until the next attempt, due ``renew_every`` after the previous attempt BEGAN. The deadline
        counts from that instant too, so the time an attempt took (a slow store or API server, a takeover
        waiting for the tick lock) must not push the next renewal towards the deadline: with renewals spaced
        from the END of the previous attempt, one attempt slower than ``renew_every`` cost the lease."""
        last = self._attempted_at
        if last is None:
            return self._wall_seconds(self.renew_every)
        return self._wall_seconds(last + self.renew_every - self.clock.now())

    def _loop(self) -> None:
        while not self._stop.wait(self._until_next_attempt()):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the renew thread must not die
                log.exception("lease step failed")

    def _halt_thread(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None and t is not threading.current_thread():
            t.join(timeout=30)

    # ---- back-end ---------------------------------------------------------------------------------------
    def _attempt(self, now: datetime) -> Grant | None:
        raise NotImplementedError

    def _release(self, now: datetime) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "lease": self.name, "identity": self.identity, "leader": self.is_leader(),
                "epoch": self.epoch, "holder": self.holder}
