"""EKS safety-gate checks through boto3 against the EKS emulator: upgrade insights (and the force override),
cluster health, nodes ready; pass, fail, cloud error, timeout and unreachable for each."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from fleet.errors import PermanentProviderError
from fleet.provider import BuiltinCheck, CheckResult, Component, OperationState, Step
from providers.eks.adapter import EksProvider
from providers.eks.emulator.server import Insight
from tests.providers import gate_kit as kit
from tests.providers.harness_eks import EksHarness, ami_releases

MINORS = ("1.29", "1.30")
CID = "eks/us-east-1/g"


def _seed(harness):
    for m in MINORS:
        harness.emulator.add_version(m)
        harness.emulator.add_ami_releases(m, ami_releases(m))
    harness.emulator.add_cluster("g", "1.29", {"ng1": "1.29"})


@pytest.fixture
def h():
    yield from kit.started(EksHarness(timeout_delay_s=0.6), _seed)


_cluster = partial(kit.cluster, cid=CID)


def _cp(to="1.30", force_until=None):
    return kit.cp_step(to, "1.29", force_until=force_until)


def _ng(to):
    return Step(Component.NODE_POOL, to=to, from_="1.29.0-20240105", pool="ng1")


def _insight(status="ERROR", version="1.30", iid="i-1"):
    return Insight(iid, "Deprecated APIs removed in Kubernetes v1.30", version, status,
                   reason="Deprecated API usage detected within last 30 days",
                   recommendation="Update manifests and clients to use newer API versions",
                   resources=["/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas"])


def test_supported_checks_and_no_rollback(h):
    p = h.provider()
    c = _cluster(p)
    assert p.supported_checks(c) == {"upgrade-blockers", "cluster-health", "nodes-ready"}
    assert EksProvider.rollback_support(c, _cp()) is None
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), {"maxAgeSeconds": 60}, kit.NOW)
    assert out.result is CheckResult.ERROR and out.evidence["unsupported"]


def test_upgrade_blockers_pass_fail_and_evidence(h):
    p = h.provider()
    c = _cluster(p)
    h.emulator.add_insight("g", _insight(status="WARNING"))
    h.emulator.add_insight("g", _insight(version="1.31", iid="i-2"))       # another minor: not ours
    out = p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.PASS, out.reason
    h.emulator.add_insight("g", _insight())
    # node-group steps are not gated by upgrade insights (UpdateNodegroupVersion has no such refusal)
    out = p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _ng("1.29.3-20240312"), {}, kit.NOW)
    assert out.result is CheckResult.PASS and out.evidence["appliesTo"] == "UpdateClusterVersion"
    out = p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.FAIL
    assert "Deprecated APIs removed" in out.reason and "force" in out.reason
    [ev] = out.evidence["insights"]
    assert ev["recommendation"].startswith("Update manifests")
    assert ev["resources"] == ["/apis/flowcontrol.apiserver.k8s.io/v1beta2/flowschemas"]


def test_update_refused_while_blocked_unless_override_active(h):
    h.emulator.add_insight("g", _insight())
    p = h.provider()
    c = _cluster(p)
    with pytest.raises(PermanentProviderError, match="InvalidStateException") as info:
        p.start(c, _cp())
    assert "force=true" in str(info.value)
    expired = (h.clock.now() - timedelta(minutes=1)).isoformat()
    with pytest.raises(PermanentProviderError, match="InvalidStateException"):
        p.start(c, _cp(force_until=expired))
    assert h.upgrade_calls(CID) == 0
    active = (h.clock.now() + timedelta(hours=1)).isoformat()
    op = p.start(c, _cp(force_until=active))
    assert h.upgrade_calls(CID) == 1
    sent = [r for r in h.emulator.requests if r.method == "POST" and r.path.endswith("/updates")]
    assert sent[-1].body["force"] is True
    h.clock.advance(3600)
    assert p.poll(c, op).state is OperationState.SUCCEEDED


def test_cluster_health_pass_and_fail(h):
    p = h.provider()
    c = _cluster(p)
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.PASS, out.reason
    h.emulator.set_health("g", "ng1", issues=[{"code": "NodeCreationFailure", "message": "Instances failed to join",
                                               "resourceIds": ["i-0abc"]}], status="DEGRADED")
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, kit.NOW)
    assert out.result is CheckResult.FAIL
    assert "ng1 status DEGRADED" in out.reason and "NodeCreationFailure" in out.reason
    assert out.evidence["nodegroups"]["ng1"]["status"] == "DEGRADED"


def test_nodes_ready_after_a_nodegroup_update(h):
    p = h.provider()
    c = _cluster(p)
    step = _ng("1.29.3-20240312")
    out = p.run_check(c, BuiltinCheck.NODES_READY, step, {}, kit.NOW)
    assert out.result is CheckResult.FAIL and "not 1.29.3-20240312" in out.reason
    op = p.start(c, step)
    h.clock.advance(86400)
    assert p.poll(c, op).state is OperationState.SUCCEEDED
    out = p.run_check(c, BuiltinCheck.NODES_READY, step, {}, kit.NOW)
    assert out.result is CheckResult.PASS, out.reason
    h.emulator.set_health("g", "ng1", issues=[{"code": "AsgInstanceLaunchFailures", "message": "x"}])
    assert p.run_check(c, BuiltinCheck.NODES_READY, step, {}, kit.NOW).result is CheckResult.FAIL
    # the control plane: ready at its version, not at the next
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp("1.29"), {}, kit.NOW).result is CheckResult.PASS
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp("1.30"), {}, kit.NOW).result is CheckResult.FAIL


@pytest.mark.parametrize("check", ["upgrade-blockers", "cluster-health", "nodes-ready"])
@pytest.mark.parametrize("fault,temporary", kit.FAULTS)
def test_cloud_errors_are_error_outcomes(h, check, fault, temporary):
    c = _cluster(h.provider())
    # the short read timeout only where the fault is a timeout: under load a normal answer may take longer
    p = h.provider(readTimeoutSeconds=0.2 if fault == "timeout" else 30)
    step = _ng("1.29.3-20240312") if check == "nodes-ready" else _cp()
    kit.assert_fault_is_error(h, p, c, check, step, fault, temporary)


@pytest.mark.parametrize("check", ["upgrade-blockers", "cluster-health", "nodes-ready"])
def test_unreachable_is_an_error_outcome(h, check):
    p = h.provider()
    c = _cluster(p)
    bad = h.provider(endpoint="http://127.0.0.1:9", connectTimeoutSeconds=0.5)
    kit.assert_unreachable_is_error(bad, c, check, _cp())
