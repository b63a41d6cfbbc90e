"""GKE safety-gate checks through google-cloud-container (REST) against the GKE emulator: cluster health, nodes
ready (pass, fail, cloud error, timeout, unreachable), and RollbackNodePoolUpgrade after a failed upgrade."""

from __future__ import annotations

from functools import partial

import pytest

from fleet.errors import PermanentProviderError
from fleet.provider import BlueGreen, BuiltinCheck, CheckResult, OperationState
from providers.gke.adapter import GkeProvider
from tests.providers import gate_kit as kit
from tests.providers.harness_gke import LOCATION, PROJECT, GkeHarness

V = ("1.29.4-gke.1043002", "1.29.8-gke.1211000", "1.30.5-gke.1014001")


def _seed(harness):
    harness.emulator.set_versions(V, project=PROJECT)
    harness.emulator.add_cluster("g", V[0], {"np": V[0]}, project=PROJECT, location=LOCATION)


@pytest.fixture
def h():
    yield from kit.started(GkeHarness(), _seed)


_cluster = partial(kit.cluster, name="g")


def _pool(to=V[1], **kw):
    return kit.pool_step(to, V[0], "np", **kw)


def _cp(to=V[1]):
    return kit.cp_step(to, V[0])


_finish = partial(kit.finish, limit=20)


def test_supported_checks(h):
    p = h.provider()
    c = _cluster(p)
    assert p.supported_checks(c) == {"cluster-health", "nodes-ready"}
    out = p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.ERROR and out.evidence["unsupported"]


def test_cluster_health_pass_and_fail(h):
    p = h.provider()
    c = _cluster(p)
    assert p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW).result is CheckResult.PASS
    h.emulator.set_health(PROJECT, LOCATION, "g", "np", status="RUNNING_WITH_ERROR", message="repair running",
                          conditions=[{"canonical_code": 9, "message": "Instances are unhealthy"}])
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.FAIL
    assert "np status RUNNING_WITH_ERROR" in out.reason and "Instances are unhealthy" in out.reason
    h.emulator.set_health(PROJECT, LOCATION, "g", "np", status="RUNNING", conditions=[])
    h.emulator.set_health(PROJECT, LOCATION, "g", status="DEGRADED", message="etcd is slow")
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.FAIL and "cluster status DEGRADED (etcd is slow)" in out.reason


def test_nodes_ready_follows_the_pool_and_the_control_plane(h):
    p = h.provider()
    c = _cluster(p)
    assert p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, kit.NOW).result is CheckResult.FAIL
    op = p.start(c, _cp())
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, kit.NOW).result is CheckResult.FAIL   # RECONCILING
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, kit.NOW).result is CheckResult.PASS
    op = p.start(_cluster(p), _pool())
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    out = p.run_check(c, BuiltinCheck.NODES_READY, _pool(), {}, kit.NOW)
    assert out.result is CheckResult.PASS, out.reason
    assert out.evidence["version"] == V[1]


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready"])
@pytest.mark.parametrize("fault,temporary", kit.FAULTS)
def test_cloud_errors_are_error_outcomes(h, check, fault, temporary):
    c = _cluster(h.provider())
    p = GkeProvider("gke", h.settings(timeoutSeconds=0.2 if fault == "timeout" else 30), clock=h.clock)
    kit.assert_fault_is_error(h, p, c, check, _pool(), fault, temporary, delay_s=0.4)


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready"])
def test_unreachable_is_an_error_outcome(h, check):
    c = _cluster(h.provider())
    bad = GkeProvider("gke", h.settings(endpoint="http://127.0.0.1:9"), clock=h.clock)
    kit.assert_unreachable_is_error(bad, c, check, _pool())


def test_rollback_support_is_for_node_pool_steps(h):
    c = _cluster(h.provider())
    assert GkeProvider.rollback_support(c, _cp()) is None
    support = GkeProvider.rollback_support(c, _pool())
    assert support is not None and support.api.startswith("RollbackNodePoolUpgrade")
    assert GkeProvider.rollback_support(c, _pool(strategy="blue-green", blue_green=BlueGreen())) is not None


def test_rollback_after_a_failed_pool_upgrade(h):
    p = h.provider()
    c = _cluster(p)
    op = p.start(c, _cp())
    _finish(h, p, c, op)
    c = _cluster(p)
    h.inject("fail-operation")
    step = _pool()
    op = p.start(c, step)
    assert _finish(h, p, c, op).state is OperationState.FAILED
    rb = p.rollback(c, step, op)
    assert rb.data["rollback"] is True
    [entry] = h.emulator.rollback_log
    assert entry["changes"] is True and entry["version"] == V[0] and entry["nodePool"] == "np"
    assert _finish(h, p, c, rb).state is OperationState.SUCCEEDED
    assert _cluster(p).pool("np").version == V[0]


def test_rollback_refused_after_a_completed_upgrade(h):
    p = h.provider()
    c = _cluster(p)
    _finish(h, p, c, p.start(c, _cp()))
    c = _cluster(p)
    step = _pool()
    op = p.start(c, step)
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    with pytest.raises(PermanentProviderError, match="makes no changes") as info:
        p.rollback(c, step, op)
    assert info.value.code == "NothingToRollBack"
    assert h.emulator.rollback_log == []


def test_emulator_rollback_without_a_failed_upgrade_changes_nothing(h):
    """Straight through the SDK: GKE "makes no changes if the last upgrade successfully completed"."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import container_v1

    client = container_v1.ClusterManagerClient(credentials=AnonymousCredentials(), transport="rest",
                                               client_options=ClientOptions(api_endpoint=h.emulator.url))
    name = f"projects/{PROJECT}/locations/{LOCATION}/clusters/g/nodePools/np"
    op = client.rollback_node_pool_upgrade(request=container_v1.RollbackNodePoolUpgradeRequest(name=name))
    assert op.status == container_v1.Operation.Status.DONE
    assert h.emulator.rollback_log[-1]["changes"] is False
    assert client.get_node_pool(name=name).version == V[0]
