"""OKE safety-gate checks through the oci SDK against the OKE emulator: cluster health (cluster, node pools,
nodes and their errors) and nodes ready (every node of the pool ACTIVE at the target); pass, fail, cloud error,
timeout and unreachable."""

from __future__ import annotations

from functools import partial

import pytest

from fleet.provider import BuiltinCheck, CheckResult, OperationState
from providers.oke.adapter import OkeProvider
from tests.providers import gate_kit as kit
from tests.providers.harness_oke import OkeHarness

V = ("v1.30.1", "v1.30.10", "v1.31.1")


@pytest.fixture
def h():
    yield from kit.started(OkeHarness(), lambda x: x.seed("g", V[0], {"pool-a": V[0]}, list(V)))


_cluster = partial(kit.cluster, name="g")


def _pool(to=V[1]):
    return kit.pool_step(to, V[0], "pool-a")


def _cp(to=V[1]):
    return kit.cp_step(to, V[0])


_finish = kit.finish


def test_supported_checks_and_no_rollback(h):
    p = h.provider()
    c = _cluster(p)
    assert p.supported_checks(c) == {"cluster-health", "nodes-ready"}
    assert OkeProvider.rollback_support(c, _pool()) is None
    assert p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _cp(), {}, kit.NOW).result is CheckResult.ERROR


def test_cluster_health_sees_node_errors(h):
    p = h.provider()
    c = _cluster(p)
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.PASS, out.reason
    assert out.evidence["nodePools"]["pool-a"]["nodes"] == 3
    h.emulator.set_node_state("g", "pool-a", 1, lifecycle_state="FAILING",
                              error={"code": "LimitExceeded", "message": "out of host capacity", "status": "409"})
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.FAIL
    assert "FAILING" in out.reason and "LimitExceeded: out of host capacity" in out.reason
    h.emulator.set_state("g", lifecycle_state="FAILED")
    assert "cluster FAILED" in p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW).reason


def test_nodes_ready_needs_every_node_at_the_target(h):
    p = h.provider()
    c = _cluster(p)
    op = p.start(c, _cp())
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, kit.NOW).result is CheckResult.PASS
    c = _cluster(p)
    out = p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, kit.NOW)
    assert out.result is CheckResult.FAIL and "3 node(s)" in out.reason
    op = p.start(c, _pool())
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    out = p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, kit.NOW)
    assert out.result is CheckResult.PASS, out.reason
    h.emulator.set_node_state("g", "pool-a", 0, lifecycle_state="UPDATING")
    assert p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, kit.NOW).result is CheckResult.FAIL


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready"])
@pytest.mark.parametrize("fault,temporary", kit.FAULTS)
def test_cloud_errors_are_error_outcomes(h, check, fault, temporary):
    p = h.provider(timeoutSeconds=0.3)
    kit.assert_fault_is_error(h, p, _cluster(p), check, _pool(), fault, temporary, delay_s=1.0)


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready"])
def test_unreachable_is_an_error_outcome(h, check):
    c = _cluster(h.provider())
    kit.assert_unreachable_is_error(h.provider(endpoint="http://127.0.0.1:9/{region}"), c, check, _pool())
