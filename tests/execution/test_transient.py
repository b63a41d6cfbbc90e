"""Transient provider errors change nothing (#22): offers that fail for now never block a cluster; an
operation record that vanished after success is settled by re-reading the cluster."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from fleet.clock import FakeClock
from fleet.errors import OperationNotFound, TemporaryProviderError
from fleet.provider import Cluster, OperationRef, OperationState, OperationStatus, VersionOffers
from fleet.state import open_store
from providers.sim.adapter import SimProvider
from tests.execution.helpers import OFFERED, START, all_at, drive, finished, make_engine, policy, sim_fleet


class FlakyOffers:
    """A Provider test double: the sim provider, but its clusters carry no offers (so offers() is called)
    and offers() raises a TemporaryProviderError while ``failing``."""

    def __init__(self, inner: SimProvider):
        self.inner, self.failing = inner, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def discover(self) -> list[Cluster]:
        return [replace(c, available=(), node_pools=tuple(replace(p, available=()) for p in c.node_pools))
                for c in self.inner.discover()]

    def offers(self, cluster: Cluster) -> VersionOffers:
        if self.failing:
            raise TemporaryProviderError("throttled", provider="sim", code="Throttling")
        return VersionOffers(OFFERED, {p.name: OFFERED for p in cluster.node_pools})


def test_offers_failing_for_now_never_block_a_cluster(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 2)
    store = open_store(state_url)
    flaky = FlakyOffers(SimProvider("sim", clock=clock, world=world))
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 1})], provider=flaky)
    flaky.failing = True
    eng.reconcile()
    assert eng.last_plan is not None
    assert all(cp.status == "unknown" for cp in eng.last_plan.clusters), eng.last_plan.clusters
    assert not store.runs()
    flaky.failing = False
    drive(eng, clock, until=clock.now() + timedelta(minutes=30))
    assert store.runs() and store.events(kind="step-dispatched")
    statuses = {cp.id: cp.status for cp in eng.last_plan.clusters}
    flaky.failing = True                      # mid-run: the offers cache is dropped after each step
    for cid in world.clusters:
        eng.observer.forget_offers(cid)
    drive(eng, clock, until=clock.now() + timedelta(hours=6))
    assert {cp.id: cp.status for cp in eng.last_plan.clusters} == statuses     # unchanged, not blocked
    assert not store.events(kind="cluster-blocked")
    assert all(m.status != "blocked" for m in store.members())
    flaky.failing = False
    drive(eng, clock, done=finished(store, world))
    assert all_at(world, "1.30.4")
    assert not store.events(kind="cluster-blocked")


class VanishingOperations:
    """A Provider test double: the sim provider, but once an operation has ended its record is gone — poll
    raises OperationNotFound (as an adapter does on the cloud's 404 for the operation)."""

    def __init__(self, inner: SimProvider):
        self.inner = inner
        self.vanished = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        status = self.inner.poll(cluster, op)
        if status.state is not OperationState.RUNNING:
            self.vanished += 1
            raise OperationNotFound(f"operation {op.id} not found", provider="sim", code="NotFound")
        return status


def test_a_vanished_operation_is_settled_by_re_reading_the_cluster(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 2)
    store = open_store(state_url)
    vanishing = VanishingOperations(SimProvider("sim", clock=clock, world=world))
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 2, "maxFailures": 1})],
                      provider=vanishing)
    drive(eng, clock, done=finished(store, world))
    assert vanishing.vanished > 0
    assert all_at(world, "1.30.4")
    assert not store.events(kind="step-failed") and store.runs()[0].status == "done"
    assert store.runs()[0].failures == 0
