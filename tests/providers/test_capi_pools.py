"""MachinePools and managed control planes: the emulator's cited rules (providers/capi/emulator/pools.py), the
budget translation table (providers/capi/pools.py) and the rules per managed cloud (providers/capi/rules.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fleet.clock import FakeClock
from fleet.provider import Cluster, Component, Step
from providers.capi.emulator.server import CapiEmulator
from providers.capi.emulator.store import StatusError
from providers.capi.pools import compute_infra_patch
from providers.capi.rules import compute_rules


@pytest.fixture
def emu():
    clock = FakeClock()
    e = CapiEmulator(clock, capi_version="v1beta2")
    e.pools.pt.cp_upgrade = 600.0
    yield e, clock


def _patch(e, kind, name, body):
    rt = e.types[kind]
    with e.store.lock:
        return e.store.patch(rt, "default", name, body, "application/merge-patch+json")[0]


def _run(e, clock, minutes):
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        e.tick()


def test_eks_control_plane_moves_one_minor_per_cloud_update(emu):
    e, clock = emu
    e.add_managed_cluster("eks", "AWSManagedControlPlane", "v1.29.6")
    _patch(e, "AWSManagedControlPlane", "eks-control-plane", {"spec": {"version": "v1.31"}})
    seen = []
    for _ in range(40):
        _run(e, clock, 1)
        v = e.get("AWSManagedControlPlane", "eks-control-plane")["status"]["version"]
        if not seen or seen[-1] != v:
            seen.append(v)
    assert seen[0] in ("1.29", "1.29.6") and seen[1:] == ["1.30", "1.31"], seen   # 1.30 on the way, not skipped


def test_eks_webhook_refuses_a_lower_version(emu):
    e, _ = emu
    e.add_managed_cluster("eks", "AWSManagedControlPlane", "v1.30.4")
    with pytest.raises(StatusError) as info:
        _patch(e, "AWSManagedControlPlane", "eks-control-plane", {"spec": {"version": "v1.29"}})
    assert info.value.code == 422 and "new version less than old version" in info.value.message


def test_aks_webhook_refuses_a_downgrade_and_defaults_the_v(emu):
    e, _ = emu
    e.add_managed_cluster("aks", "AzureManagedControlPlane", "1.30.4")
    assert e.get("AzureManagedControlPlane", "aks-control-plane")["spec"]["version"] == "v1.30.4"
    with pytest.raises(StatusError) as info:
        _patch(e, "AzureManagedControlPlane", "aks-control-plane", {"spec": {"version": "v1.30.1"}})
    assert "field version cannot be downgraded" in info.value.message


def test_gke_webhook_refuses_version_and_control_plane_version_together(emu):
    e, _ = emu
    e.add_managed_cluster("gke", "GCPManagedControlPlane", "v1.30.4")
    with pytest.raises(StatusError) as info:
        _patch(e, "GCPManagedControlPlane", "gke-control-plane", {"spec": {"controlPlaneVersion": "v1.31.1"}})
    assert "cannot be set at the same time" in info.value.message


def test_oke_pool_keeps_its_nodes_without_node_cycling(emu):
    e, clock = emu
    e.add_managed_cluster("oke", "OCIManagedControlPlane", "v1.31.1", pools={"np": ("v1.30.1", 3)})
    _patch(e, "OCIManagedMachinePool", "np", {"spec": {"version": "v1.31.1"}})
    _patch(e, "MachinePool", "np", {"spec": {"template": {"spec": {"version": "v1.31.1"}}}})
    _run(e, clock, 30)
    assert e.get("MachinePool", "np")["status"]["versions"] == [{"version": "v1.30.1", "replicas": 3}]
    _patch(e, "OCIManagedMachinePool", "np", {"spec": {"nodePoolCyclingDetails": {
        "isNodeCyclingEnabled": True, "maximumUnavailable": "2"}}})
    _run(e, clock, 30)
    assert e.get("MachinePool", "np")["status"]["versions"] == [{"version": "v1.31.1", "replicas": 3}]
    assert e.budget("MachinePool", "np").max_unavailable == 2


def test_oke_pool_version_comes_from_the_infrastructure_pool_not_the_machine_pool(emu):
    e, clock = emu
    e.add_managed_cluster("oke", "OCIManagedControlPlane", "v1.31.1", pools={"np": ("v1.30.1", 2)},
                          update={"isNodeCyclingEnabled": True})
    _patch(e, "MachinePool", "np", {"spec": {"template": {"spec": {"version": "v1.31.1"}}}})
    _run(e, clock, 30)
    assert e.get("MachinePool", "np")["status"]["versions"] == [{"version": "v1.30.1", "replicas": 2}]


@pytest.mark.parametrize("update,batch", [({"maxUnavailable": 1}, 1), ({"maxUnavailable": 3}, 3),
                                          ({"maxUnavailablePercentage": 50}, 2)])
def test_eks_node_group_batches_follow_update_config(emu, update, batch):
    e, clock = emu
    e.add_managed_cluster("eks", "AWSManagedControlPlane", "v1.31.1", pools={"ng": ("v1.30.4", 4)}, update=update)
    _patch(e, "MachinePool", "ng", {"spec": {"template": {"spec": {"version": "v1.31.1"}}}})
    _run(e, clock, 30)
    assert e.get("MachinePool", "ng")["status"]["versions"] == [{"version": "v1.31.1", "replicas": 4}]
    assert e.budget("MachinePool", "ng").max_unavailable == batch


def test_machine_pool_webhook_defaults_the_v_and_status_tracks_generation(emu):
    e, clock = emu
    e.add_cluster("k", "v1.30.4", pools={})
    e.add_machine_pool("k", "mp", "1.30.4", "DevMachinePool", replicas=2)
    mp = e.get("MachinePool", "mp")
    assert mp["spec"]["template"]["spec"]["version"] == "v1.30.4"
    out = _patch(e, "MachinePool", "mp", {"spec": {"template": {"spec": {"version": "v1.31.1"}}}})
    assert out["metadata"]["generation"] == 2 and out["status"]["observedGeneration"] == 1
    _run(e, clock, 20)
    st = e.get("MachinePool", "mp")["status"]
    assert st["observedGeneration"] == 2 and st["upToDateReplicas"] == 2 and st["readyReplicas"] == 2


def _step(**kw):
    return Step(Component.NODE_POOL, to="v1.31.1", from_="v1.30.4", pool="p", **kw)


@pytest.mark.parametrize("kind,step,patch,warns", [
    ("AWSManagedMachinePool", _step(max_surge=1, max_unavailable=2),
     {"updateConfig": {"maxUnavailable": 2, "maxUnavailablePercentage": None}}, ["take no maxSurge"]),
    ("AWSManagedMachinePool", _step(max_unavailable=1, max_unavailable_spec="25%"),
     {"updateConfig": {"maxUnavailablePercentage": 25, "maxUnavailable": None}}, []),
    ("AWSManagedMachinePool", _step(max_unavailable=1, max_unavailable_spec="12.5%"),
     {"updateConfig": {"maxUnavailablePercentage": 13, "maxUnavailable": None}}, ["becomes 13%"]),
    ("AWSManagedMachinePool", _step(max_unavailable=0, max_unavailable_spec="0%"),
     {"updateConfig": {"maxUnavailable": 1, "maxUnavailablePercentage": None}}, ["at least 1 node"]),
    ("AWSManagedMachinePool", _step(max_unavailable=0), {"updateConfig": {"maxUnavailable": 1,
                                                                          "maxUnavailablePercentage": None}},
     ["using maxUnavailable=1"]),
    ("AWSManagedMachinePool", _step(max_unavailable=250), {"updateConfig": {"maxUnavailable": 100,
                                                                            "maxUnavailablePercentage": None}},
     ["becomes 100"]),
    ("AWSManagedMachinePool", _step(), None, []),
    ("OCIManagedMachinePool", _step(max_surge=1, max_unavailable=0, max_surge_spec="1"),
     {"version": "v1.31.1", "nodePoolCyclingDetails": {"isNodeCyclingEnabled": True, "maximumSurge": "1",
                                                       "maximumUnavailable": "0"}, "nodeSourceViaImage": {"imageId": None}},
     []),
    ("OCIManagedMachinePool", _step(max_surge=0, max_unavailable=0),
     {"version": "v1.31.1", "nodePoolCyclingDetails": {"isNodeCyclingEnabled": True, "maximumSurge": "1",
                                                       "maximumUnavailable": "0"}, "nodeSourceViaImage": {"imageId": None}},
     ["refuses maxSurge 0 with maxUnavailable 0"]),
    ("OCIManagedMachinePool", _step(max_surge=1, max_unavailable=1, max_surge_spec="12.5%",
                                    max_unavailable_spec="12.5%"),
     {"version": "v1.31.1", "nodePoolCyclingDetails": {"isNodeCyclingEnabled": True, "maximumSurge": "13%",
                                                       "maximumUnavailable": "12%"}, "nodeSourceViaImage": {"imageId": None}},
     ["maxSurge 12.5% becomes 13%", "maxUnavailable 12.5% becomes 12%"]),
    ("OCIManagedMachinePool", _step(max_surge=1, drain_timeout_seconds=90),
     {"version": "v1.31.1", "nodePoolCyclingDetails": {"isNodeCyclingEnabled": True, "maximumSurge": "1",
                                                       "maximumUnavailable": "0"}, "nodeSourceViaImage": {"imageId": None},
      "nodeEvictionNodePoolSettings": {"evictionGraceDuration": "PT2M"}}, ["90s becomes PT2M"]),
    ("AzureManagedMachinePool", _step(max_surge=1), None, ["no rollout budget field"]),
    ("AzureManagedMachinePool", _step(drain_timeout_seconds=60), None, ["drainTimeout is not a field"]),
    ("GCPManagedMachinePool", _step(), None, []),
    ("DevMachinePool", _step(), None, ["blocked: no image"]),
])
def test_infrastructure_pool_patch_and_warnings(kind, step, patch, warns):
    out, w = compute_infra_patch(kind, step, "v1.31.1", None)
    assert (out or {}).get("spec") == patch
    assert len(w) == len(warns) and all(x in y for x, y in zip(warns, w, strict=True)), w


def test_rules_per_managed_cloud():
    def rules(kind):
        return compute_rules(Cluster("capi", "m/ns", "c", "v1.30.4", facts={"controlPlaneKind": kind}))
    eks = rules("AWSManagedControlPlane")
    assert eks.pools_match_before_cp_minor and eks.pool_minor_step == 1 and eks.knobs == {"maxUnavailable"}
    assert rules("OCIManagedControlPlane").knobs == {"maxSurge", "maxUnavailable", "drainTimeout"}
    assert rules("AzureManagedControlPlane").knobs == frozenset()
    with pytest.raises(ValueError):
        rules("RKE2ControlPlane")


def test_nodes_ready_gate_on_a_managed_pool_and_control_plane(tmp_path):
    from fleet.provider import BuiltinCheck, CheckResult
    from tests.providers.harness import KitHarness

    h = KitHarness("capi", flavour="eks")
    h.start()
    try:
        cid = h.seed("g", "v1.29.2", {"ng": "v1.29.2"}, ["v1.29.2", "v1.30.4"])
        p = h.provider()
        c = next(x for x in p.discover() if x.id == cid)
        assert p.supported_checks(c) == {str(BuiltinCheck.CLUSTER_HEALTH), str(BuiltinCheck.NODES_READY)}
        cp_step = Step(Component.CONTROL_PLANE, to="v1.30.4", from_="v1.29.2")
        now = h.clock.now()
        assert p.run_check(c, BuiltinCheck.CLUSTER_HEALTH, cp_step, {}, now).result is CheckResult.PASS
        p.start(c, cp_step)
        assert p.run_check(c, BuiltinCheck.NODES_READY, cp_step, {}, now).result is CheckResult.FAIL
        h.finish_operations()
        assert p.run_check(c, BuiltinCheck.NODES_READY, cp_step, {}, h.clock.now()).result is CheckResult.PASS
        pool_step = Step(Component.NODE_POOL, to="v1.30.4", from_="v1.29.2", pool="ng")
        c = next(x for x in p.discover() if x.id == cid)
        p.start(c, pool_step)
        assert p.run_check(c, BuiltinCheck.NODES_READY, pool_step, {}, h.clock.now()).result is CheckResult.FAIL
        h.finish_operations()
        assert p.run_check(c, BuiltinCheck.NODES_READY, pool_step, {}, h.clock.now()).result is CheckResult.PASS
    finally:
        h.stop()


def test_eks_minor_only_versions_and_a_missing_control_plane_object(tmp_path):
    """EKS versions spelled major.minor (as EKS offers them) go through; a Cluster whose managed control plane
    object is missing is skipped by discovery, not fatal."""
    from fleet.provider import OperationState
    from tests.providers.harness import KitHarness

    h = KitHarness("capi", flavour="eks")
    h.start()
    try:
        cid = h.seed("m", "v1.30", {"ng": "v1.30"}, ["v1.30", "v1.31"])
        e = h.emulator
        e.add_managed_cluster("gone", "AWSManagedControlPlane", "v1.30")
        with e.store.lock:
            e.store.delete(e.types["AWSManagedControlPlane"], "default", "gone-control-plane")
        p = h.provider()
        found = {c.id: c for c in p.discover()}
        assert "capi/mgmt/default/gone" not in found
        c = found[cid]
        assert c.control_plane == "v1.30" and p.offers(c).control_plane == ("v1.30", "v1.31")
        for step in (Step(Component.CONTROL_PLANE, to="v1.31", from_="v1.30"),
                     Step(Component.NODE_POOL, to="v1.31", from_="v1.30", pool="ng", max_unavailable=1)):
            op = p.start(c, step)
            h.finish_operations()
            assert p.poll(c, op).state is OperationState.SUCCEEDED
            c = next(x for x in p.discover() if x.id == cid)
        assert c.control_plane == "v1.31" and c.pool("ng").version == "v1.31"
    finally:
        h.stop()


def test_oke_basic_cluster_blocks_its_pools_and_aks_keeps_the_skew():
    from fleet.provider import NodePool

    pools = (NodePool("np", "v1.30.1"),)
    basic = compute_rules(Cluster("capi", "m/ns", "c", "v1.30.1", node_pools=pools,
                                  facts={"controlPlaneKind": "OCIManagedControlPlane", "clusterType": "BASIC_CLUSTER"}))
    assert set(basic.blocked_pools) == {"np"} and "ENHANCED" in basic.blocked_pools["np"]
    enhanced = compute_rules(Cluster("capi", "m/ns", "c", "v1.30.1", node_pools=pools, facts={
        "controlPlaneKind": "OCIManagedControlPlane", "clusterType": "ENHANCED_CLUSTER"}))
    assert not enhanced.blocked_pools
    aks = compute_rules(Cluster("capi", "m/ns", "c", "v1.30.1", facts={"controlPlaneKind": "AzureManagedControlPlane"}))
    assert aks.pool_skew == 2 and aks.pool_minor_step == 1


def test_aks_pool_above_the_control_plane_is_not_rolled(emu):
    e, clock = emu
    e.add_managed_cluster("aks", "AzureManagedControlPlane", "v1.30.4", pools={"ap": ("v1.30.4", 2)})
    _patch(e, "MachinePool", "ap", {"spec": {"template": {"spec": {"version": "v1.31.1"}}}})
    _run(e, clock, 20)
    assert e.get("MachinePool", "ap")["status"]["versions"] == [{"version": "v1.30.4", "replicas": 2}]
    _patch(e, "AzureManagedControlPlane", "aks-control-plane", {"spec": {"version": "v1.31.1"}})
    _run(e, clock, 30)
    assert e.get("MachinePool", "ap")["status"]["versions"] == [{"version": "v1.31.1", "replicas": 2}]
