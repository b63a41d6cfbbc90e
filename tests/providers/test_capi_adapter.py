"""CapiProvider against emulated management clusters: discovery over several scopes, managed topologies,
missing images, idempotency after a crash, stalls and failures."""

from __future__ import annotations

import socket

import pytest

from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.provider import Component, OperationState, Step
from providers.capi.adapter import CapiProvider
from providers.capi.objects import compute_template_copy
from tests.providers.harness_capi import management_clusters, oci_image, write_kubeconfig

VERSIONS = ["v1.29.2", "v1.29.8", "v1.30.4"]
KCP = "KubeadmControlPlane"


@pytest.fixture
def env():
    yield from management_clusters({"east": "v1beta1", "west": "v1beta2"}, "capi-adapter-")


def provider(clock, tmp, **extra) -> CapiProvider:
    settings = {"managementClusters": [{"kubeconfig": str(tmp / "kubeconfig"), "context": "east"},
                                       {"kubeconfig": str(tmp / "kubeconfig"), "context": "west"}],
                "images": {"OCIMachineTemplate": {v: oci_image(v) for v in VERSIONS}}, **extra}
    return CapiProvider("capi", settings, clock=clock)


def find(p, cid):
    return next(c for c in p.discover() if c.id == cid)


def drive(p, clock, cluster, op, limit=200):
    for _ in range(limit):
        st = p.poll(cluster, op)
        if st.state is not OperationState.RUNNING:
            return st
        clock.advance(60)
    return st


def test_discovery_over_management_clusters_and_namespaces(env):
    clock, emus, tmp = env
    emus["east"].add_cluster("a1", "v1.29.2", namespace="team-a", pools={"md-0": 2, "md-1": 1})
    emus["east"].add_cluster("b1", "v1.29.2", namespace="team-b", pools={})
    emus["west"].add_cluster("a2", "v1.29.8", namespace="team-a", labels={"env": "prod"},
                             annotations={"argocd.argoproj.io/tracking-id": "fleet:cluster.x-k8s.io/Cluster:team-a/a2"})
    everything = {c.id: c for c in provider(clock, tmp).discover()}
    assert set(everything) == {"capi/east/team-a/a1", "capi/east/team-b/b1", "capi/west/team-a/a2"}
    a1, a2 = everything["capi/east/team-a/a1"], everything["capi/west/team-a/a2"]
    assert a1.provider_type == "capi" and a1.location == "east/team-a" and a1.control_plane == "v1.29.2"
    assert [(p.name, p.version, p.nodes) for p in a1.node_pools] == [("md-0", "v1.29.2", 2), ("md-1", "v1.29.2", 1)]
    assert a1.available == ("v1.29.2", "v1.29.8", "v1.30.4") and a1.auto_upgrade is None and a1.healthy
    assert a1.extra["capiVersion"] == "v1beta1" and a2.extra["capiVersion"] == "v1beta2"
    assert a2.labels == {"env": "prod"} and a2.available == ("v1.29.8", "v1.30.4")
    assert a2.auto_upgrade and "Argo CD" in a2.auto_upgrade                # GitOps would revert our changes
    # namespaces: top level, overridden per management cluster
    only_a = provider(clock, tmp, namespaces=["team-a"]).discover()
    assert sorted(c.id for c in only_a) == ["capi/east/team-a/a1", "capi/west/team-a/a2"]
    p = CapiProvider("capi", {"managementClusters": [
        {"kubeconfig": "kubeconfig", "context": "east", "name": "phx", "namespaces": ["team-b"]}]},
        clock=clock, config_dir=str(tmp))
    assert [c.id for c in p.discover()] == ["capi/phx/team-b/b1"]


def test_missing_image_is_not_offered_and_blocks_without_a_half_made_change(env):
    clock, emus, tmp = env
    emu = emus["west"]
    emu.add_cluster("c1", "v1.29.2")
    p = provider(clock, tmp)
    c = find(p, "capi/west/default/c1")
    assert "v1.31.0" not in p.offers(c).control_plane
    step = Step(Component.CONTROL_PLANE, to="v1.31.0", from_="v1.30.4")
    assert any(w.startswith("blocked: no image for OCIMachineTemplate") for w in p.check_step(c, step))
    templates = len(emu.list("OCIMachineTemplate"))
    for bad in (step, Step(Component.CONTROL_PLANE, to="v1.31.0", from_="v1.29.2"),
                Step(Component.NODE_POOL, to="v1.29.8", from_="v1.29.2", pool="md-0"),   # newer than the CP
                Step(Component.NODE_POOL, to="v1.29.2", from_="v1.29.2", pool="nope")):
        with pytest.raises(PermanentProviderError):
            p.start(c, bad)
    assert len(emu.list("OCIMachineTemplate")) == templates and emu.upgrade_log == []


def test_restart_after_template_was_created_reuses_it(env):
    clock, emus, tmp = env
    emu = emus["east"]
    emu.add_cluster("c1", "v1.29.2")
    # the crashed process got as far as creating the template, not as far as patching the KCP
    original = emu.get("OCIMachineTemplate", "c1-control-plane")
    made = compute_template_copy(original, "v1.29.8", oci_image("v1.29.8"), "spec.template.spec.imageId")
    emu.store.create(emu.types["OCIMachineTemplate"], "default", made)
    p = provider(clock, tmp)
    c = find(p, "capi/east/default/c1")
    op = p.start(c, Step(Component.CONTROL_PLANE, to="v1.29.8", from_="v1.29.2"))
    kcp = emu.get(KCP, "c1-control-plane")
    assert kcp["spec"]["machineTemplate"]["infrastructureRef"]["name"] == made["metadata"]["name"]
    assert len(emu.list("OCIMachineTemplate")) == 3 and emu.upgrade_calls("c1") == 1
    assert op.data["kind"] == KCP and op.data["generation"] == kcp["metadata"]["generation"]
    assert drive(p, clock, c, op).state is OperationState.SUCCEEDED
    # a template of that name with another spec is somebody else's: refuse, change nothing
    emu.add_cluster("c2", "v1.29.2", pools={"w": 1})
    clash = compute_template_copy(emu.get("OCIMachineTemplate", "c2-control-plane"), "v1.29.8", oci_image("v1.29.8"),
                                  "spec.template.spec.imageId")
    clash["spec"]["template"]["spec"]["shape"] = "BM.Standard3.64"
    emu.store.create(emu.types["OCIMachineTemplate"], "default", clash)
    c2 = find(p, "capi/east/default/c2")
    with pytest.raises(PermanentProviderError):
        p.start(c2, Step(Component.CONTROL_PLANE, to="v1.29.8", from_="v1.29.2"))
    assert emu.upgrade_calls("c2") == 0


@pytest.mark.parametrize("mgmt", ["east", "west"])
def test_managed_topology(env, mgmt):
    clock, emus, tmp = env
    emu = emus[mgmt]
    emu.add_cluster("cc", "v1.29.2", topology=True, pools={"a": 1, "b": 2},
                    md_annotations={"b": {"topology.cluster.x-k8s.io/defer-upgrade": ""}})
    p = provider(clock, tmp)
    c = find(p, f"capi/{mgmt}/default/cc")
    assert c.pools_follow_control_plane and c.extra["topology"] and c.extra["deferUpgrade"] == ["b"]
    assert c.extra["clusterClass"] == "quick-start"
    step = Step(Component.CONTROL_PLANE, to="v1.29.8", from_="v1.29.2")
    assert any("defer-upgrade" in w for w in p.check_step(c, step))
    op = p.start(c, step)
    assert op.data["kind"] == "Cluster" and emu.get("Cluster", "cc")["spec"]["topology"]["version"] == "v1.29.8"
    assert p.start(find(p, c.id), step).id == op.id and emu.upgrade_calls("cc") == 1        # idempotent
    with pytest.raises(TemporaryProviderError):                                              # busy
        p.start(find(p, c.id), Step(Component.CONTROL_PLANE, to="v1.30.4", from_="v1.29.8"))
    st = drive(p, clock, c, op, limit=30)
    assert st.state is OperationState.RUNNING and "b deferred by defer-upgrade" in st.message
    mds = {m["metadata"]["name"]: m["spec"]["template"]["spec"]["version"] for m in emu.list("MachineDeployment")}
    assert mds == {"cc-a": "v1.29.8", "cc-b": "v1.29.2"}
    # lifting the annotation lets CAPI finish, and the step with it
    cluster = emu.get("Cluster", "cc")
    del cluster["spec"]["topology"]["workers"]["machineDeployments"][1]["metadata"]
    emu.store.update(emu.types["Cluster"], "default", "cc", cluster)
    assert drive(p, clock, c, op).state is OperationState.SUCCEEDED
    with pytest.raises(PermanentProviderError):          # a pool step cannot move a topology pool on its own
        p.start(find(p, c.id), Step(Component.NODE_POOL, to="v1.30.4", from_="v1.29.8", pool="cc-a"))


def test_stalled_rollout_runs_until_the_timeout_then_fails(env):
    clock, emus, tmp = env
    emu = emus["west"]
    emu.add_cluster("c1", "v1.29.2")
    emu.inject("machine-never-ready")
    p = provider(clock, tmp, rolloutTimeoutSeconds=3 * 3600)
    c = find(p, "capi/west/default/c1")
    op = p.start(c, Step(Component.CONTROL_PLANE, to="v1.29.8", from_="v1.29.2"))
    st = drive(p, clock, c, op, limit=150)                        # 2.5 h: still running, never blocks
    assert st.state is OperationState.RUNNING and "0/3 up to date" not in st.message
    st = drive(p, clock, c, op)
    assert st.state is OperationState.FAILED and "not finished after 10800s" in st.message


def test_failed_machine_and_superseded_spec_fail_the_step(env):
    clock, emus, tmp = env
    emu = emus["east"]
    emu.add_cluster("c1", "v1.29.2", pools={"md-0": 3})
    p = provider(clock, tmp)
    c = find(p, "capi/east/default/c1")
    cp_op = p.start(c, Step(Component.CONTROL_PLANE, to="v1.29.8", from_="v1.29.2"))
    assert drive(p, clock, c, cp_op).state is OperationState.SUCCEEDED
    emu.inject("machine-fails", target="md-0")
    c = find(p, c.id)
    op = p.start(c, Step(Component.NODE_POOL, to="v1.29.8", from_="v1.29.2", pool="md-0", max_surge=1,
                         max_unavailable=0))
    st = drive(p, clock, c, op)
    assert st.state is OperationState.FAILED and "out of capacity" in st.message
    # someone else re-targets the KCP: our step is not done, it is superseded
    emu.store.patch(emu.types[KCP], "default", "c1-control-plane", {"spec": {"version": "v1.30.4"}},
                    "application/merge-patch+json")
    st = p.poll(c, cp_op)
    assert st.state is OperationState.FAILED and "superseded" in st.message


def test_unreachable_or_misconfigured_management_cluster(env):
    clock, emus, tmp = env
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    p = provider(clock, tmp, endpoint=dead, requestTimeoutSeconds=2)
    with pytest.raises(TemporaryProviderError):
        p.discover()
    missing = CapiProvider("capi", {"managementClusters": [{"kubeconfig": "nope.yaml"}]}, clock=clock,
                           config_dir=str(tmp))
    with pytest.raises(PermanentProviderError):
        missing.discover()
    wrong_ctx = CapiProvider("capi", {"managementClusters": [{"kubeconfig": "kubeconfig", "context": "north"}]},
                             clock=clock, config_dir=str(tmp))
    with pytest.raises(PermanentProviderError):
        wrong_ctx.discover()
    write_kubeconfig(tmp / "bad-token", {"east": emus["east"].url}, token="wrong")
    with pytest.raises(PermanentProviderError) as info:
        CapiProvider("capi", {"managementClusters": [{"kubeconfig": "bad-token"}]}, clock=clock,
                     config_dir=str(tmp)).discover()
    assert info.value.code == "401" and "wrong" not in str(info.value)
