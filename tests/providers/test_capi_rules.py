"""Cluster API's upgrade rules: ClusterClass ``spec.kubernetesVersions`` (rules.py, the Cluster webhook in the
emulator, the adapter's offers and start), and KubeadmControlPlane one minor at a time."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from kubernetes import client
from pydantic import ValidationError

from fleet.clock import FakeClock
from fleet.errors import PermanentProviderError
from fleet.provider import Cluster, Component, NodePool, OperationState, Step, rules_for
from providers.capi.adapter import CapiProvider
from providers.capi.emulator.server import CapiEmulator
from providers.capi.rules import Facts, compute_rules
from tests.providers.harness_capi import TOKEN, oci_image, write_kubeconfig

CAPI = "cluster.x-k8s.io"
CLASS_VERSIONS = ["v1.29.2", "v1.30.4", "v1.31.1"]
IMAGES = ["v1.29.2", "v1.29.8", "v1.30.4"]          # the image map: not what a ClusterClass cluster is offered


@pytest.fixture(params=["v1beta1", "v1beta2"])
def env(request):
    clock = FakeClock()
    emu = CapiEmulator(clock, capi_version=request.param, token=TOKEN)
    emu.start()
    tmp = Path(tempfile.mkdtemp(prefix="capi-rules-"))
    write_kubeconfig(tmp / "kubeconfig", {"m": emu.url})
    p = CapiProvider("capi", {"managementClusters": [{"kubeconfig": str(tmp / "kubeconfig"), "context": "m"}],
                              "images": {"OCIMachineTemplate": {v: oci_image(v) for v in IMAGES}}}, clock=clock)
    yield clock, emu, p
    emu.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def custom(emu: CapiEmulator) -> client.CustomObjectsApi:
    cfg = client.Configuration()
    cfg.host, cfg.api_key = emu.url, {"authorization": f"Bearer {TOKEN}"}
    return client.CustomObjectsApi(client.ApiClient(cfg))


def _cluster(facts: dict, follow: bool = False) -> Cluster:
    return Cluster("capi", "m/default", "c", "v1.29.2", node_pools=(NodePool("md-0", "v1.29.2"),),
                   provider_type="capi", pools_follow_control_plane=follow, facts=facts)


# ---- rules (pure) ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("facts,follow,allowed,pools_follow", [
    ({}, False, None, False),
    ({}, True, None, True),                                          # discovered topology
    ({"topology": True}, False, None, True),                         # stated in an inventory
    ({"clusterClassVersions": CLASS_VERSIONS}, False, tuple(CLASS_VERSIONS), True),
])
def test_rules_from_facts(facts, follow, allowed, pools_follow):
    rules = compute_rules(_cluster(facts, follow))
    assert rules.allowed_versions == allowed and rules.pools_follow_control_plane is pools_follow
    assert rules_for(CapiProvider, _cluster(facts, follow)) == rules


@pytest.mark.parametrize("facts,field", [({"clusterClassVersion": ["v1.30.4"]}, "clusterClassVersion"),
                                         ({"clusterClassVersions": "v1.30.4"}, "clusterClassVersions")])
def test_facts_are_strict(facts, field):
    with pytest.raises(ValidationError, match=field):
        Facts.model_validate(facts)
    assert CapiProvider.facts_model is Facts


# ---- the emulator's webhooks ---------------------------------------------------------------------------
def test_topology_version_must_be_listed_by_the_cluster_class(env):
    """core/webhooks/admission/cluster.go ValidateClusterForClusterClass."""
    _, emu, _ = env
    emu.add_cluster("cc", "v1.29.2", topology=True, pools={"a": 1}, class_versions=CLASS_VERSIONS)
    api = custom(emu)
    with pytest.raises(client.ApiException) as info:
        api.patch_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters", "cc",
                                           {"spec": {"topology": {"version": "v1.29.8"}}})
    assert info.value.status == 422 and "must match one of the versions defined in the ClusterClass" in info.value.body
    assert emu.upgrade_calls("cc") == 0
    # a listed version two minors up is admitted: with a version list there is no +2 ceiling (CAPI chains it)
    api.patch_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters", "cc",
                                       {"spec": {"topology": {"version": "v1.31.1"}}})
    assert emu.get("Cluster", "cc")["spec"]["topology"]["version"] == "v1.31.1"


def test_without_a_version_list_the_ceiling_applies(env):
    _, emu, _ = env
    emu.add_cluster("cc", "v1.29.2", topology=True, pools={"a": 1})
    with pytest.raises(client.ApiException) as info:
        custom(emu).patch_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters", "cc",
                                                   {"spec": {"topology": {"version": "v1.31.1"}}})
    assert info.value.status == 422 and "cannot update Kubernetes version" in info.value.body


def test_kubeadm_control_plane_moves_one_minor_at_a_time(env):
    """controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane.go validateVersion."""
    _, emu, _ = env
    emu.add_cluster("k", "v1.29.2", pools={})
    with pytest.raises(client.ApiException) as info:
        custom(emu).patch_namespaced_custom_object("controlplane.cluster.x-k8s.io", emu.capi_version, "default",
                                                   "kubeadmcontrolplanes", "k-control-plane",
                                                   {"spec": {"version": "v1.31.0"}})
    assert info.value.status == 422 and "cannot update Kubernetes version from v1.29.2 to v1.31.0" in info.value.body


# ---- the adapter -------------------------------------------------------------------------------------------
def test_offers_come_from_the_cluster_class_not_the_image_map(env):
    _, emu, p = env
    emu.add_cluster("cc", "v1.29.2", topology=True, pools={"a": 1}, class_versions=CLASS_VERSIONS)
    emu.add_cluster("plain", "v1.29.2", topology=True, pools={"a": 1}, cluster_class="other")
    found = {c.name: c for c in p.discover()}
    cc = found["cc"]
    assert dict(cc.facts) == {"topology": True, "clusterClassVersions": CLASS_VERSIONS}
    assert cc.available == tuple(CLASS_VERSIONS) and cc.node_pools[0].available == tuple(CLASS_VERSIONS)
    assert p.offers(cc).control_plane == tuple(CLASS_VERSIONS)
    assert CapiProvider.upgrade_rules(cc).allowed_versions == tuple(CLASS_VERSIONS)
    Facts.model_validate(dict(cc.facts))
    assert dict(found["plain"].facts) == {"topology": True}                   # no list: the image map decides
    assert found["plain"].available == tuple(IMAGES)


def test_start_sends_only_listed_versions(env):
    clock, emu, p = env
    emu.add_cluster("cc", "v1.29.2", topology=True, pools={"a": 1}, class_versions=CLASS_VERSIONS)
    c = next(iter(p.discover()))
    with pytest.raises(PermanentProviderError, match="kubernetesVersions"):
        p.start(c, Step(Component.CONTROL_PLANE, to="v1.29.8", from_="v1.29.2"))   # has an image, not listed
    assert emu.upgrade_calls("cc") == 0
    assert any("not in the ClusterClass" in w for w in p.check_step(c, Step(Component.CONTROL_PLANE, to="v1.29.8",
                                                                           from_="v1.29.2")))
    listed = Step(Component.CONTROL_PLANE, to="v1.31.1", from_="v1.29.2")           # no image for it: fine
    assert not [w for w in p.check_step(c, listed) if w.startswith("blocked")]
    op = p.start(c, Step(Component.CONTROL_PLANE, to="1.30.4", from_="v1.29.2"))   # listed
    assert emu.get("Cluster", "cc")["spec"]["topology"]["version"] == "v1.30.4"
    for _ in range(300):
        st = p.poll(c, op)
        if st.state is not OperationState.RUNNING:
            break
        clock.advance(60)
    assert st.state is OperationState.SUCCEEDED, st.message
