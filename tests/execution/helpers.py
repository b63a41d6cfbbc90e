"""Building blocks for engine tests: a simulated fleet, policies from dicts, and a virtual-time driver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.clock import FakeClock
from fleet.execution.driver import drive as run_virtual_time
from fleet.execution.engine import Engine
from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, NodePool
from fleet.state import Store
from providers.sim.adapter import SimProvider
from providers.sim.world import Faults, SimWorld

OFFERED = ("1.28.3", "1.28.9", "1.29.2", "1.29.8", "1.30.4")
START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)   # a Monday


def policy(name: str = "p", **spec: Any) -> UpgradePolicy:
    body: dict[str, Any] = {"target": {"version": "1.30"}}
    body.update(spec)
    return UpgradePolicy.model_validate({"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy",
                                         "metadata": {"name": name}, "spec": body})


def sim_fleet(clock: FakeClock, n: int, *, cp: str = "1.28.3", pools: int = 1, labels=None,
              faults: Faults | None = None, cp_minutes: int = 20, pool_minutes: int = 10) -> SimWorld:
    world = SimWorld(clock, cp_duration=timedelta(minutes=cp_minutes), pool_duration=timedelta(minutes=pool_minutes),
                     faults=faults or Faults())
    for i in range(n):
        lab = dict(labels(i) if callable(labels) else (labels or {}))
        world.add(Cluster(provider="sim", location="lab", name=f"c{i:04d}", control_plane=cp,
                          node_pools=tuple(NodePool(f"pool{j}", cp, 3) for j in range(pools)),
                          labels=lab, available=OFFERED))
    return world


def make_engine(store: Store, world: SimWorld, clock: FakeClock, policies: list[UpgradePolicy],
                provider: Any = None, **kw: Any) -> Engine:
    p = provider or SimProvider("sim", clock=clock, world=world)
    return Engine(store, {"sim": p}, lambda: policies, clock, **kw)


def drive(engine: Engine, clock: FakeClock, *, until: datetime | None = None, max_ticks: int = 5000,
          done: Any = None) -> int:
    """Run reconcile ticks in virtual time, jumping to each tick's next wake (fleet.execution.driver) until
    ``done()`` or ``until``. Returns ticks run."""
    return run_virtual_time(engine, clock, stop=None if done is None else lambda _res: done(), until=until,
                            max_ticks=max_ticks)


def all_at(world: SimWorld, version: str) -> bool:
    return all(c.control_plane == version and all(p.version == version for p in c.pools)
               for c in world.clusters.values())


def finished(store: Store, world: SimWorld, version: str = "1.30.4"):
    """A done() for drive(): the fleet is at ``version`` and the engine has closed every run."""
    return lambda: all_at(world, version) and bool(store.runs()) and not store.runs(active_only=True)
