"""Leader election and fencing: several ``fleet daemon`` replicas on one state store, exactly one acts.

Two back-ends behind one interface (fleet.daemon.lease.LeaderElector: ``start()``, ``is_leader()``, ``epoch``,
``release()``):

* ``database`` (:class:`DatabaseLease`): a row of the store's ``leases`` table, taken and renewed by an atomic
  compare-and-set in one transaction (the store's lease methods, fleet.state.leases). A holder renews at a third of the lease duration; a replica takes the
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

from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from fleet.daemon.lease import NO_EPOCH, Grant, LeaderElector, default_identity
from fleet.state.store import SqlStore as Store

__all__ = ["NO_EPOCH", "DatabaseLease", "Grant", "LeaderElector", "default_identity", "lease_row", "make_elector"]


class DatabaseLease(LeaderElector):
    """A lease row in the state store (SQLite or PostgreSQL): take over when expired, epoch+1 per holder."""

    backend = "database"

    def __init__(self, store: Store, name: str, identity: str, duration: timedelta, clock: Clock, *,
                 engine: Any = None):
        super().__init__(name, identity, duration, clock, store=store, engine=engine)
        self.lease_store = store

    def _attempt(self, now: datetime) -> Grant | None:
        claim = self.lease_store.acquire_lease(self.name, self.identity, now, self.duration)
        if claim.seen is not None:
            self.holder = claim.seen
        return None if claim.epoch is None else Grant(claim.epoch, claim.seen)

    def _release(self, now: datetime) -> None:
        self.lease_store.release_lease(self.name, self.identity, self.epoch, now)


def lease_row(store: Store, name: str) -> dict[str, Any] | None:
    """The store's lease row (for status, tests and the chaos benchmark)."""
    row = store.lease(name)
    return None if row is None else asdict(row)


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
