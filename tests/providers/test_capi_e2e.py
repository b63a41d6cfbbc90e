"""Adapter-level end-to-end runs of the Cluster API provider against emulated management clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.clock import FakeClock
from fleet.provider import Cluster, Component, OperationState, Step
from providers.capi.adapter import CapiProvider
from providers.capi.emulator.server import CapiEmulator
from tests.providers.harness_capi import management_clusters, oci_image

KCP = "KubeadmControlPlane"
MD = "MachineDeployment"


@pytest.fixture
def env():
    yield from management_clusters({"capi-110": "v1beta1", "capi-111": "v1beta2"}, "capi-e2e-")


def _provider(clock: FakeClock, tmp: Path, versions: list[str]) -> CapiProvider:
    return CapiProvider("capi", {
        "managementClusters": [{"kubeconfig": "kubeconfig", "context": "capi-110"},
                               {"kubeconfig": "kubeconfig", "context": "capi-111"}],
        "images": {"OCIMachineTemplate": {v: oci_image(v) for v in versions}},
        "pollIntervalSeconds": 30}, clock=clock, config_dir=str(tmp))


def _run(p: CapiProvider, clock: FakeClock, cluster: Cluster, step: Step) -> None:
    assert not [w for w in p.check_step(cluster, step) if w.startswith("blocked")]
    op = p.start(cluster, step)
    assert op.data["version"] == step.to
    for _ in range(400):
        st = p.poll(cluster, op)
        if st.state is not OperationState.RUNNING:
            assert st.state is OperationState.SUCCEEDED, st.message
            return
        clock.advance(st.poll_after or 30)
    raise AssertionError(f"{step.key} on {cluster.id} never finished")


def _find(p: CapiProvider, cid: str) -> Cluster:
    return next(c for c in p.discover() if c.id == cid)


def _template(emu: CapiEmulator, name: str) -> dict:
    return emu.get("OCIMachineTemplate", name)


def test_oci_clusters_v1beta1_and_v1beta2_go_129_130_131_within_budget(env):
    clock, emus, tmp = env
    for mgmt, emu in emus.items():
        emu.add_cluster(f"oci-{mgmt}", "v1.29.6", cp_replicas=3, pools={"md-0": 3})
    versions = ["v1.29.6", "v1.30.4", "v1.31.1"]
    p = _provider(clock, tmp, versions)
    ids = sorted(c.id for c in p.discover())
    assert ids == ["capi/capi-110/default/oci-capi-110", "capi/capi-111/default/oci-capi-111"]

    for target in versions[1:]:
        for cid in ids:
            c = _find(p, cid)
            assert target in p.offers(c).control_plane
            _run(p, clock, c, Step(Component.CONTROL_PLANE, to=target, from_=c.control_plane, max_surge=1))
            c = _find(p, cid)
            assert c.control_plane == target
            _run(p, clock, c, Step(Component.NODE_POOL, to=target, from_=c.pool("md-0").version, pool="md-0",
                                   max_surge=1, max_unavailable=0, max_surge_spec="1", max_unavailable_spec="0"))

    for mgmt, emu in emus.items():
        name = f"oci-{mgmt}"
        c = _find(p, f"capi/{mgmt}/default/{name}")
        assert c.control_plane == "v1.31.1" and c.pool("md-0").version == "v1.31.1" and not c.upgrading
        assert c.extra["capiVersion"] == ("v1beta1" if mgmt == "capi-110" else "v1beta2")
        # the objects now point at NEW OCIMachineTemplates carrying the mapped image; the old ones are untouched
        kcp, md = emu.get(KCP, f"{name}-control-plane"), emu.get(MD, "md-0")
        kref = (kcp["spec"]["machineTemplate"]["infrastructureRef"] if mgmt == "capi-110"
                else kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"])
        mref = md["spec"]["template"]["spec"]["infrastructureRef"]
        for ref, original in ((kref, f"{name}-control-plane"), (mref, f"{name}-md-0")):
            assert ref["name"] != original
            new = _template(emu, ref["name"])
            assert new["spec"]["template"]["spec"]["imageId"] == oci_image("v1.31.1")
            assert new["metadata"]["annotations"]["fleet-upgrader.io/kubernetes-version"] == "v1.31.1"
            assert "uid" in new["metadata"] and new["metadata"]["uid"] != _template(emu, original)["metadata"]["uid"]
            assert _template(emu, original)["spec"]["template"]["spec"]["imageId"].endswith("seed-k8s-1-29-6")
        templates = {t["metadata"]["name"]: t for t in emu.list("OCIMachineTemplate")}
        assert len(templates) == 2 + 4                     # two originals, a new one per object per minor
        # every Machine runs the new version from the new template
        machines = emu.machines()
        assert len(machines) == 6
        assert {m.version for m in machines} == {"v1.31.1"}
        assert {m.template for m in machines} == {kref["name"], mref["name"]}
        # and no Machine was ever outside the budget (maxSurge 1, maxUnavailable 0)
        for kind, obj in ((KCP, f"{name}-control-plane"), (MD, "md-0")):
            b = emu.budget(kind, obj)
            assert b.samples > 0
            assert b.max_surge == 1 and b.max_unavailable == 0, (kind, b)
        assert emu.upgrade_calls(name) == 4


@pytest.mark.parametrize("mgmt", ["capi-110", "capi-111"])
def test_two_pools_patch_first_then_two_minors_with_budgets(env, mgmt):
    clock, emus, tmp = env
    emu = emus[mgmt]
    emu.add_cluster("duo", "v1.29.2", cp_replicas=3, pools={"md-a": 4, "md-b": 2})
    path = ["v1.29.2", "v1.29.8", "v1.30.4", "v1.31.1"]
    p = _provider(clock, tmp, path)
    cid = f"capi/{mgmt}/default/duo"
    knobs = {"md-a": dict(max_surge=1, max_unavailable=1, max_surge_spec="25%", max_unavailable_spec="1",
                          node_soak_seconds=60, drain_timeout_seconds=600),
             "md-b": dict(max_surge=0, max_unavailable=1, max_surge_spec="0", max_unavailable_spec="1")}
    for target in path[1:]:
        c = _find(p, cid)
        _run(p, clock, c, Step(Component.CONTROL_PLANE, to=target, from_=c.control_plane, max_surge=0,
                               max_unavailable=1))
        for pool in ("md-a", "md-b"):
            c = _find(p, cid)
            _run(p, clock, c, Step(Component.NODE_POOL, to=target, from_=c.pool(pool).version, pool=pool,
                                   **knobs[pool]))
    c = _find(p, cid)
    assert (c.control_plane, c.pool("md-a").version, c.pool("md-b").version) == ("v1.31.1",) * 3

    # what arrived at the API server: three KCP patches with maxSurge 0, and the pool knobs on every MD patch
    log = [u for u in emu.upgrade_log if u.cluster == "duo"]
    assert [(u.kind, u.to_version) for u in log] == [(k, v) for v in path[1:] for k in (KCP, MD, MD)]
    assert all(u.method == "PATCH" and u.content_type == "application/merge-patch+json" for u in log)
    v1 = mgmt == "capi-110"
    for u in log:
        spec = u.body["spec"]
        assert u.body["metadata"]["resourceVersion"]            # optimistic concurrency on every write
        if u.kind == KCP:
            strategy = spec["rolloutStrategy"] if v1 else spec["rollout"]["strategy"]
            assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0}}
            continue
        strategy = spec["strategy"] if v1 else spec["rollout"]["strategy"]
        tspec = spec["template"]["spec"]
        if u.name == "md-a":
            assert strategy["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 1}
            assert (spec["minReadySeconds"] if v1 else tspec["minReadySeconds"]) == 60
            assert (tspec["nodeDrainTimeout"] == "600s") if v1 else (tspec["deletion"]["nodeDrainTimeoutSeconds"] == 600)
        else:
            assert strategy["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    # and the simulated controllers kept to them
    assert emu.budget(KCP, "duo-control-plane").max_surge == 0
    assert emu.budget(KCP, "duo-control-plane").max_unavailable == 1
    a, b = emu.budget(MD, "md-a"), emu.budget(MD, "md-b")
    assert a.max_surge == 1 and a.max_unavailable <= 1, a          # 25% of 4 -> 1 surge; 1 unavailable
    assert b.max_surge == 0 and b.max_unavailable == 1, b
