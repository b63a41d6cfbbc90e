"""Leader election and fencing: several ``fleet daemon`` replicas on one state store, exactly one acts.

Two back-ends behind one interface (``start()``, ``is_leader()``, ``epoch``, ``release()``):

* ``database`` (:class:`DatabaseLease`): a row of the store's ``leases`` table, taken and renewed by an atomic
  compare-and-set in one transaction. A holder renews at a third of the lease duration; a replica takes the
  row over once it has expired, and every change of holder adds one to its epoch.
* ``kubernetes`` (fleet.daemon.lease_k8s.KubernetesLease): a coordination.k8s.io/v1 Lease with
  ``leaseTransitions`` as the epoch, written through to the store's ``leases`` row so the store fence holds.

Fencing: on winning the lease the elector sets ``engine.epoch`` and ``store.fence = (lease, epoch)``; every
store write then checks that the lease row still carries that epoch (Store.write). The engine records a
step's intent before it calls a provider, so a paused or partitioned old leader can neither record nor issue
a step once another replica has taken the lease over. On losing the lease (or when a renewal does not succeed
before the renew deadline, two thirds of the lease duration) the fence is set to an epoch no row carries, so
this replica's engine stops writing - and so acting - at once, even in the middle of a tick.

Time comes from the injected clock: lease expiry and deadlines are read from it; the renew thread waits in
real time (virtual seconds divided by a ScaledClock's factor). Tests with a FakeClock call ``step()``.
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
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from fleet.clock import Clock, utc
from fleet.errors import StateError
from fleet.state import schema as S
from fleet.state.store import SqlStore as Store

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
        self._leader = False
        self._deadline: datetime | None = None
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
            if self._leader and not self.is_leader():
                self._lose("the lease was not renewed before its deadline")
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

    def _loop(self) -> None:
        while not self._stop.wait(self._wall_seconds(self.renew_every)):
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


class DatabaseLease(LeaderElector):
    """A lease row in the state store (SQLite or PostgreSQL): take over when expired, epoch+1 per holder."""

    backend = "database"

    def __init__(self, store: Store, name: str, identity: str, duration: timedelta, clock: Clock, *,
                 engine: Any = None):
        super().__init__(name, identity, duration, clock, store=store, engine=engine)
        self.lease_store = store

    def _attempt(self, now: datetime) -> Grant | None:
        L = S.leases
        try:
            with self.lease_store.engine.begin() as conn:
                q = select(L.c.holder, L.c.epoch, L.c.expires_at).where(L.c.name == self.name)
                if conn.dialect.name == "postgresql":
                    q = q.with_for_update()
                row = conn.execute(q).first()
                expires = now + self.duration
                if row is None:
                    conn.execute(insert(L).values(name=self.name, holder=self.identity, epoch=1, renewed_at=now,
                                                  expires_at=expires))
                    return Grant(1, None)
                holder, epoch, expires_at = row
                self.holder = holder
                if holder == self.identity:
                    n = conn.execute(update(L).where(L.c.name == self.name, L.c.holder == self.identity,
                                                     L.c.epoch == epoch)
                                     .values(renewed_at=now, expires_at=expires)).rowcount
                    return Grant(epoch, holder) if n == 1 else None
                if utc(expires_at) > now:
                    return None
                n = conn.execute(update(L).where(L.c.name == self.name, L.c.holder == holder, L.c.epoch == epoch)
                                 .values(holder=self.identity, epoch=epoch + 1, renewed_at=now,
                                         expires_at=expires)).rowcount
                return Grant(epoch + 1, holder) if n == 1 else None
        except SQLAlchemyError as exc:
            raise StateError(f"lease {self.name}: {exc.__class__.__name__}") from exc

    def _release(self, now: datetime) -> None:
        L = S.leases
        with self.lease_store.engine.begin() as conn:
            conn.execute(update(L).where(L.c.name == self.name, L.c.holder == self.identity, L.c.epoch == self.epoch)
                         .values(expires_at=now))


def lease_row(store: Store, name: str) -> dict[str, Any] | None:
    """The store's lease row (for status, tests and the chaos benchmark)."""
    with store.read() as conn:
        r = conn.execute(select(S.leases).where(S.leases.c.name == name)).first()
    return None if r is None else dict(r._mapping)


def make_elector(runtime: Any, cfg: Any, *, shard: Any = None, identity: str | None = None,
                 clock: Clock | None = None) -> LeaderElector:
    """The elector for ``spec.leaderElection`` (a LeaderElectionConfig) of ``runtime`` (a Runtime); with a
    ``shard`` (fleet.daemon.sharding.Shard) the lease name carries the shard suffix."""
    name = shard.lease_name(cfg.lease_name) if shard is not None else cfg.lease_name
    identity = identity or default_identity()
    clock = clock or runtime.engine.clock
    if cfg.backend == "database":
        return DatabaseLease(runtime.store, name, identity, cfg.lease_duration, clock, engine=runtime.engine)
    if cfg.backend == "kubernetes":
        from fleet.daemon.lease_k8s import KubernetesLease, coordination_api
        kubeconfig = None
        if cfg.kubeconfig:
            p = Path(cfg.kubeconfig).expanduser()
            kubeconfig = p if p.is_absolute() else runtime.config_file.resolve().parent / p
        api = coordination_api(kubeconfig, cfg.context)
        return KubernetesLease(api, cfg.namespace, name, identity, cfg.lease_duration, clock,
                               store=runtime.store, engine=runtime.engine)
    raise ValueError(f"unknown leader election backend {cfg.backend!r} (known: none, database, kubernetes)")
