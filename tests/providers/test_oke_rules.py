"""OKE's upgrade rules: node cycling only on ENHANCED clusters and never for bare-metal shapes (rules.py), the
facts discover() reports, start() refusing what OKE cannot cycle, and poll() following node cycling to the end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from fleet.errors import PermanentProviderError
from fleet.provider import Cluster, Component, NodePool, OperationState, PoolStrategy, Step, rules_for
from providers.oke.adapter import CYCLING_GRACE_SECONDS, OkeProvider
from providers.oke.rules import BARE_METAL_REASON, BASIC_REASON, Facts, compute_rules
from tests.providers.harness_oke import OkeHarness

VERSIONS = ["v1.30.1", "v1.30.10", "v1.31.1", "v1.31.10", "v1.32.1"]


@pytest.fixture
def h():
    harness = OkeHarness()
    harness.start()
    yield harness
    harness.stop()


def _cluster(facts: dict, pools=("a", "b")) -> Cluster:
    return Cluster("oke", "us-ashburn-1", "c", "v1.31.1", node_pools=tuple(NodePool(p, "v1.30.1") for p in pools),
                   provider_type="oke", facts=facts)


# ---- rules (pure) ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("facts,blocked", [
    ({}, {}),
    ({"clusterType": "ENHANCED_CLUSTER"}, {}),
    ({"clusterType": "BASIC_CLUSTER"}, {"a": BASIC_REASON, "b": BASIC_REASON}),
    ({"clusterType": "ENHANCED_CLUSTER", "bareMetalPools": ["b"]}, {"b": BARE_METAL_REASON}),
    ({"clusterType": "BASIC_CLUSTER", "bareMetalPools": ["b"]}, {"a": BASIC_REASON, "b": BASIC_REASON}),
])
def test_pools_that_cannot_be_cycled_are_blocked(facts, blocked):
    rules = compute_rules(_cluster(facts))
    assert dict(rules.blocked_pools) == blocked
    assert rules.strategies == frozenset({PoolStrategy.SURGE})
    assert rules_for(OkeProvider, _cluster(facts)) == rules


@pytest.mark.parametrize("facts,field", [({"clusterType": "BASIC"}, "clusterType"),
                                         ({"bareMetal": ["a"]}, "bareMetal"),
                                         ({"bareMetalPools": "a"}, "bareMetalPools")])
def test_facts_are_strict(facts, field):
    with pytest.raises(ValidationError, match=field):
        Facts.model_validate(facts)
    assert OkeProvider.facts_model is Facts


# ---- discovery -------------------------------------------------------------------------------------------
def test_discover_reports_cluster_type_and_bare_metal_pools(h):
    e = h.emulator
    e.add_cluster("basic", "v1.31.1", {"p": "v1.31.1"}, available=VERSIONS, cluster_type="BASIC_CLUSTER")
    e.add_cluster("mixed", "v1.31.1", {"vm": "v1.31.1", "bm": "v1.31.1"}, available=VERSIONS,
                  shapes={"bm": "BM.Standard.E5.192"})
    found = {c.name: c for c in h.provider().discover()}
    assert dict(found["basic"].facts) == {"clusterType": "BASIC_CLUSTER"}
    assert dict(found["mixed"].facts) == {"clusterType": "ENHANCED_CLUSTER", "bareMetalPools": ["bm"]}
    assert dict(OkeProvider.upgrade_rules(found["mixed"]).blocked_pools) == {"bm": BARE_METAL_REASON}
    Facts.model_validate(dict(found["mixed"].facts))          # the same keys an inventory states


# ---- start: never send an upgrade that leaves the kubelets old -------------------------------------------
@pytest.mark.parametrize("cluster_type,shape,why", [("BASIC_CLUSTER", "VM.Standard.E4.Flex", "ENHANCED"),
                                                    ("ENHANCED_CLUSTER", "BM.Standard3.64", "bare metal")])
def test_start_refuses_pools_oke_cannot_cycle(h, cluster_type, shape, why):
    e = h.emulator
    e.add_cluster("x", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS, cluster_type=cluster_type,
                  shapes={"p": shape})
    p = h.provider()
    c = next(iter(p.discover()))
    with pytest.raises(PermanentProviderError, match=why) as info:
        p.start(c, Step(Component.NODE_POOL, "v1.31.1", "v1.30.1", pool="p"))
    assert info.value.code == "NodeCyclingUnsupported"
    assert e.upgrade_log == []


# ---- poll: done only when the nodes are -------------------------------------------------------------------
def test_poll_follows_a_separate_nodepool_cycling_work_request(h):
    e = h.emulator
    e.cycling_work_request = True
    e.add_cluster("cy", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS)
    p = h.provider()
    c = next(iter(p.discover()))
    op = p.start(c, Step(Component.NODE_POOL, "v1.31.1", "v1.30.1", pool="p"))
    h.clock.advance(timedelta(minutes=1))                       # the NODEPOOL_UPDATE work request is done
    e.settle()
    assert e.work_requests[op.id].status == "SUCCEEDED"
    st = p.poll(c, op)
    assert st.state is OperationState.RUNNING and "NODEPOOL_CYCLING" in st.message
    # a second start() adopts the running cycling instead of sending another update
    assert p.start(c, Step(Component.NODE_POOL, "v1.31.1", "v1.30.1", pool="p")).id != op.id
    assert len(e.upgrade_log) == 1
    h.finish_operations()
    st = p.poll(c, op)
    assert st.state is OperationState.SUCCEEDED and "all nodes at v1.31.1" in st.message


def test_poll_reports_a_failed_cycling_work_request(h):
    e = h.emulator
    e.cycling_work_request = True
    e.add_cluster("cf", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS)
    p = h.provider()
    c = next(iter(p.discover()))
    op = p.start(c, Step(Component.NODE_POOL, "v1.31.1", "v1.30.1", pool="p"))
    h.clock.advance(timedelta(minutes=1))
    e.settle()
    cycling = next(w for w in e.work_requests.values() if w.op_type == "NODEPOOL_CYCLING")
    cycling.fail = True                                          # the emulator's controls: this one ends FAILED
    h.finish_operations()
    st = p.poll(c, op)
    assert st.state is OperationState.FAILED and "NODEPOOL_CYCLING failed" in st.message


def test_poll_never_reports_done_while_nodes_stay_old(h):
    """A pool whose version moved but whose nodes were not cycled (e.g. changed outside fleet) is not done."""
    e = h.emulator
    cid = e.add_cluster("st", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS)
    p = h.provider()
    c = next(iter(p.discover()))
    op = p.start(c, Step(Component.NODE_POOL, "v1.31.1", "v1.30.1", pool="p"))
    w = e.work_requests[op.id]
    w.cycle = False                                              # the update completes without replacing nodes
    h.finish_operations()
    e.settle()
    assert next(iter(e.clusters[cid].pools.values())).version == "v1.31.1"
    assert p.poll(c, op).state is OperationState.RUNNING         # a cycling work request may still appear
    h.clock.advance(timedelta(seconds=CYCLING_GRACE_SECONDS + 1))
    st = p.poll(c, op)
    assert st.state is OperationState.FAILED and "not cycled" in st.message
