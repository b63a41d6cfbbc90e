"""Cluster API safety-gate checks through the kubernetes client against the emulated management cluster (v1beta1
and v1beta2): cluster health from KubeadmControlPlane / MachineDeployment / Machine conditions, nodes ready,
and the configurable etcd-backup annotation; pass, fail, cloud error, timeout and unreachable."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from kubernetes import client as k8s

from fleet.provider import BuiltinCheck, CheckResult, OperationState
from providers.capi.adapter import CapiProvider
from tests.providers import gate_kit as kit
from tests.providers.harness_capi import TOKEN, CapiHarness

V = ("v1.29.2", "v1.29.8", "v1.30.4")
ANNOTATION = "backup.example.com/etcd-last-success"
KCP = "KubeadmControlPlane"


@pytest.fixture(params=["v1beta1", "v1beta2"])
def h(request):
    yield from kit.started(CapiHarness(capi_version=request.param),
                       lambda x: x.seed("g", V[0], {"g-md-0": V[0]}, list(V)))


_cluster = partial(kit.cluster, name="g")


def _cp(to=V[1]):
    return kit.cp_step(to, V[0])


def _pool(c, to=V[1]):
    return kit.pool_step(to, V[0], c.node_pools[0].name)


def _annotate(h, value):
    cfg = k8s.Configuration()
    cfg.host = h.emulator.url
    cfg.api_key = {"authorization": TOKEN}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    api = k8s.CustomObjectsApi(k8s.ApiClient(cfg))
    api.patch_namespaced_custom_object("cluster.x-k8s.io", h.capi_version, "default", "clusters", "g",
                                       {"metadata": {"annotations": {ANNOTATION: value}}},
                                       _content_type="application/merge-patch+json")


_finish = kit.finish


def test_supported_checks_and_no_rollback(h):
    p = h.provider()
    c = _cluster(p)
    assert p.supported_checks(c) == {"cluster-health", "nodes-ready", "etcd-backup"}
    assert CapiProvider.rollback_support(c, _cp()) is None
    assert p.run_check(c, BuiltinCheck.UPGRADE_BLOCKERS, _cp(), {}, h.clock.now()).result is CheckResult.ERROR


def test_cluster_health_reads_the_control_plane_conditions(h):
    p = h.provider()
    c = _cluster(p)
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, h.clock.now())
    assert out.result is CheckResult.PASS, out.reason
    assert out.evidence["kubeadmControlPlane"]
    kcp = c.extra["controlPlane"]["name"]
    h.emulator.set_condition(KCP, kcp, "EtcdClusterHealthy", False, "EtcdClusterUnhealthy",
                             "etcd member g-cp-1 has alarm NOSPACE")
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, h.clock.now())
    assert out.result is CheckResult.FAIL
    assert "EtcdClusterHealthy=False" in out.reason and "NOSPACE" in out.reason


def test_cluster_health_sees_an_unhealthy_machine(h):
    p = h.provider()
    c = _cluster(p)
    machine = h.emulator.list("Machine")[0]["metadata"]["name"]
    h.emulator.set_condition("Machine", machine, "NodeHealthy", False, "NodeConditionsFailed", "kubelet stopped")
    out = p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, _cp(), {}, h.clock.now())
    assert out.result is CheckResult.FAIL and f"Machine {machine} NodeHealthy=False" in out.reason


def test_nodes_ready_for_a_machine_deployment(h):
    p = h.provider()
    c = _cluster(p)
    op = p.start(c, _cp())
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    assert p.run_check(c, BuiltinCheck.NODES_READY, _cp(), {}, h.clock.now()).result is CheckResult.PASS
    step = _pool(c)
    out = p.run_check(c, BuiltinCheck.NODES_READY, step, {}, h.clock.now())
    assert out.result is CheckResult.FAIL and "not at v1.29.8" in out.reason
    op = p.start(_cluster(p), step)
    assert _finish(h, p, c, op).state is OperationState.SUCCEEDED
    out = p.run_check(c, BuiltinCheck.NODES_READY, step, {}, h.clock.now())
    assert out.result is CheckResult.PASS, out.reason
    machine = next(iter(out.evidence["machines"]))
    h.emulator.set_condition("Machine", machine, "Ready", False, "NodeNotReady", "node is NotReady")
    assert p.run_check(c, BuiltinCheck.NODES_READY, step, {}, h.clock.now()).result is CheckResult.FAIL


def test_etcd_backup_annotation(h):
    p = h.provider()
    c = _cluster(p)
    now = h.clock.now()
    params = {"maxAgeSeconds": 3600, "annotation": ANNOTATION}
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now)
    assert out.result is CheckResult.FAIL and "no etcd backup recorded" in out.reason
    _annotate(h, (now - timedelta(minutes=10)).isoformat())
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now)
    assert out.result is CheckResult.PASS and out.evidence["ageSeconds"] == 600
    assert p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now + timedelta(hours=2)).result is CheckResult.FAIL
    _annotate(h, "yesterday")
    assert p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), params, now).result is CheckResult.ERROR
    out = p.run_check(c, BuiltinCheck.ETCD_BACKUP, _cp(), {"maxAgeSeconds": 3600}, now)
    assert out.result is CheckResult.ERROR and "params.annotation" in out.reason


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready", "etcd-backup"])
@pytest.mark.parametrize("fault,temporary", kit.FAULTS)
def test_cloud_errors_are_error_outcomes(h, check, fault, temporary):
    c = _cluster(h.provider())
    p = h.provider(requestTimeoutSeconds=0.3 if fault == "timeout" else 30)   # short only for the timeout fault
    kit.assert_fault_is_error(h, p, c, check, _cp(), fault, temporary, delay_s=1.0,
                              params={"maxAgeSeconds": 60, "annotation": ANNOTATION}, now=h.clock.now())


@pytest.mark.parametrize("check", ["cluster-health", "nodes-ready", "etcd-backup"])
def test_unreachable_is_an_error_outcome(h, check):
    c = _cluster(h.provider())
    kit.assert_unreachable_is_error(h.provider(endpoint="http://127.0.0.1:9"), c, check, _cp(),
                                    params={"maxAgeSeconds": 60, "annotation": ANNOTATION}, now=h.clock.now())
