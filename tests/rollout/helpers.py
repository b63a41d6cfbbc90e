"""Rollout strategies from dicts, and a multi-provider simulated fleet (the sim mirroring several clouds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.clock import FakeClock
from fleet.execution.engine import Engine
from fleet.policy.models import UpgradePolicy
from fleet.policy.rollout import RolloutStrategy
from fleet.provider import Cluster, NodePool
from fleet.state import Store
from providers.sim.adapter import SimProvider
from providers.sim.world import SimWorld

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)   # a Monday
OFFERED = ("1.28.3", "1.28.9", "1.29.8")


def rollout(*stages: dict[str, Any], unmatched: str = "last") -> RolloutStrategy:
    return RolloutStrategy.model_validate({"apiVersion": "fleet.dev/v1alpha1", "kind": "RolloutStrategy",
                                           "metadata": {"name": "fleet"},
                                           "spec": {"stages": list(stages), "unmatched": unmatched}})


def stage(name: str, env: str | None = None, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, **kw}
    if env is not None:
        d["selector"] = {"matchLabels": {"env": env}}
    return d


def policy(name: str = "all", **spec: Any) -> UpgradePolicy:
    body: dict[str, Any] = {"target": {"version": "1.29"}, "rollout": {"maxConcurrentClusters": 20,
                                                                       "maxFailures": 20}}
    body.update(spec)
    return UpgradePolicy.model_validate({"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy",
                                         "metadata": {"name": name}, "spec": body})


# (provider type, location, name, env): a fleet over three simulated clouds
FLEET = [
    ("gke", "europe-west3", "dev-1", "dev"),
    ("eks", "eu-central-1", "stg-1", "staging"),
    ("aks", "eastus", "stg-2", "staging"),
    ("gke", "europe-west3", "prod-eu", "prod"),
    ("aks", "eastus", "prod-us", "prod"),
    ("eks", "ap-northeast-1", "prod-ap", "prod"),
]


def multi_cloud(clock: FakeClock, fleet=FLEET, *, cp: str = "1.28.3", available=OFFERED, **world_kw: Any) -> SimWorld:
    from datetime import timedelta
    world = SimWorld(clock, cp_duration=timedelta(minutes=20), pool_duration=timedelta(minutes=10), **world_kw)
    for kind, loc, name, env in fleet:
        world.add(Cluster(provider=kind, provider_type=kind, location=loc, name=name, control_plane=cp,
                          node_pools=(NodePool("pool", cp, 3),), labels={"env": env}, available=available))
    return world


def engine(store: Store, world: SimWorld, clock: FakeClock, policies: list[UpgradePolicy],
           ro: RolloutStrategy | None, **kw: Any) -> Engine:
    providers = {k: SimProvider(k, clock=clock, world=world, mirror_of=k) for k in ("gke", "eks", "aks")}
    kw.setdefault("reconcile_interval", timedelta(hours=6))
    return Engine(store, providers, lambda: policies, clock, rollout=lambda: ro, **kw)


def cid(name: str, fleet=FLEET) -> str:
    for kind, loc, n, _ in fleet:
        if n == name:
            return f"{kind}/{loc}/{n}"
    raise KeyError(name)
