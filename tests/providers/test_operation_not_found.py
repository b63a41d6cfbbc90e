"""A vanished operation (#22): when the cloud answers "not found" for the operation being polled, the adapter
raises fleet.errors.OperationNotFound - not a plain PermanentProviderError that would fail the step and count
toward maxFailures - and the engine settles the step by re-reading the cluster.

Each emulator is asked about an operation id of the cloud's own format that it never issued (what the cloud
answers once it has purged a record): EKS DescribeUpdate -> 404 ResourceNotFoundException, GKE
operations.get -> 404 NOT_FOUND, OKE GetWorkRequest -> 404 NotAuthorizedOrNotFound, the sim -> 404.
AKS reads the managed cluster itself when its async-operation URL answers 404 (tested in
test_aks_adapter.py: test_untrusted_or_expired_operation_urls_fall_back_to_the_resource); Cluster API and
kops have no operation record to lose (their poll reads the objects / the kops process), see
docs/ARCHITECTURE.md."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from fleet.clock import FakeClock
from fleet.errors import OperationNotFound
from fleet.execution.model import StepState
from fleet.provider import Component, OperationRef, OperationState, Step
from fleet.state import open_store
from providers.sim.adapter import SimProvider
from tests.execution.helpers import START, drive, finished, make_engine, policy, sim_fleet
from tests.providers.harness import make_harness


def _forgotten(kind: str, op: OperationRef) -> OperationRef:
    """``op`` with an id of the same format that the cloud never issued."""
    if kind == "eks":
        return replace(op, id=str(uuid.uuid4()))
    if kind == "gke":
        name = str(op.data.get("name") or op.id)
        gone = name.rsplit("/", 1)[0] + "/operation-1700000000000-0000dead"
        return replace(op, id=gone, data={**op.data, "name": gone})
    if kind == "oke":
        return replace(op, id=op.id[:-8] + "deadbeef")
    return replace(op, id="op-never-issued")


@pytest.mark.parametrize("kind", ["eks", "gke", "oke", "sim"])
def test_poll_of_a_vanished_operation_raises_operation_not_found(kind):
    h = make_harness(kind)
    h.start()
    try:
        cur, _, minor = h.versions()
        cid = h.seed("gone", cur, {"poola": cur}, list(h.versions()))
        p = h.provider()
        c = next(x for x in p.discover() if x.id == cid)
        op = p.start(c, Step(Component.CONTROL_PLANE, to=minor, from_=c.control_plane))
        h.finish_operations()
        assert p.poll(c, op).state is OperationState.SUCCEEDED          # the real record answers
        with pytest.raises(OperationNotFound) as exc:
            p.poll(c, _forgotten(kind, op))
        assert exc.value.provider == kind
    finally:
        h.stop()


def test_the_engine_settles_a_vanished_operation_by_re_reading_the_cluster(state_url):
    """The sim forgets each operation as soon as it has run (its poll then answers 404): every step is
    settled by the next observation, none fails, the fleet reaches the target."""
    clock = FakeClock(START)
    world = sim_fleet(clock, 3)
    store = open_store(state_url)
    sim = SimProvider("sim", clock=clock, world=world)

    class Forgetful:
        def __getattr__(self, name):
            return getattr(sim, name)

        def poll(self, cluster, op):
            with world.lock:
                world.settle()
                if world.operations.get(op.id) is not None and world.operations[op.id].state == "succeeded":
                    del world.operations[op.id]
            return sim.poll(cluster, op)

    eng = make_engine(store, world, clock, [policy()], provider=Forgetful())
    drive(eng, clock, until=START + timedelta(days=3), done=finished(store, world))
    steps = store.steps()
    assert steps and all(s.state is StepState.SUCCEEDED for s in steps)
    assert store.events(kind="step-failed", limit=100) == []
    assert all(r.failures == 0 for r in store.runs())
