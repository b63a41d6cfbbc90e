"""Cluster API edits in Git (providers/capi/gitops.py) on v1beta1 manifests: a new template file named as the
adapter names it, the KubeadmControlPlane's version and v1beta1 infrastructureRef, the MachineDeployment's, and
managed topologies refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from fleet.errors import PermanentProviderError
from fleet.provider import Cluster, Component, NodePool, Step
from providers.capi.gitops import CapiGitOps
from providers.capi.objects import compute_template_copy
from providers.capi.settings import parse_settings

KCP = """\
# control plane of c1
apiVersion: controlplane.cluster.x-k8s.io/v1beta1
kind: KubeadmControlPlane
metadata:
  name: c1-cp
  namespace: team-a
spec:
  replicas: 3
  version: v1.29.8     # kept in step with the image
  machineTemplate:
    infrastructureRef:
      apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
      kind: OCIMachineTemplate
      name: c1-cp
---
apiVersion: cluster.x-k8s.io/v1beta1
kind: MachineDeployment
metadata:
  name: md-0
  namespace: team-a
spec:
  clusterName: c1
  template:
    spec:
      version: v1.29.8
      infrastructureRef:
        apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
        kind: OCIMachineTemplate
        name: c1-md-0
"""
TEMPLATES = """\
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: OCIMachineTemplate
metadata:
  name: c1-cp
  namespace: team-a
spec:
  template:
    spec:
      shape: VM.Standard.E4.Flex   # sized for etcd
      imageId: ocid1.image.oc1..old
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: OCIMachineTemplate
metadata:
  name: c1-md-0
  namespace: team-a
spec:
  template:
    spec:
      shape: VM.Standard.E4.Flex
      imageId: ocid1.image.oc1..old
"""
FILES = {"c1/kcp.yaml": KCP, "c1/templates/all.yaml": TEMPLATES}
CLUSTER = Cluster("capi", "mgmt/team-a", "c1", control_plane="v1.29.8", node_pools=(NodePool("md-0", "v1.29.8"),),
                  extra={"managementCluster": "mgmt", "namespace": "team-a",
                         "controlPlane": {"name": "c1-cp", "version": "v1.29.8"}})


def _edits() -> CapiGitOps:
    settings = parse_settings({"managementClusters": [{"kubeconfig": "k"}],
                               "images": {"OCIMachineTemplate": {"v1.30.4": "ocid1.image.oc1..new"}}})
    return CapiGitOps(SimpleNamespace(settings=settings))


def test_control_plane_step_adds_a_template_file_and_points_the_kcp_at_it():
    e = _edits()
    step = Step(Component.CONTROL_PLANE, to="1.30.4", from_="v1.29.8", max_surge=1)
    change = e.compute_change(FILES, "c1", CLUSTER, step)
    old = yaml.safe_load_all(TEMPLATES).__next__()
    name = compute_template_copy(old, "v1.30.4", "ocid1.image.oc1..new",
                                 "spec.template.spec.imageId")["metadata"]["name"]   # the adapter's name
    new_path = f"c1/templates/{name}.yaml"
    assert set(change.files) == {new_path, "c1/kcp.yaml"}
    tmpl = yaml.safe_load(change.files[new_path])
    assert tmpl["spec"]["template"]["spec"] == {"shape": "VM.Standard.E4.Flex", "imageId": "ocid1.image.oc1..new"}
    assert "# sized for etcd" in change.files[new_path]
    kcp_text = change.files["c1/kcp.yaml"]
    assert kcp_text.startswith("# control plane of c1\n") and "version: v1.30.4     # kept in step" in kcp_text
    kcp, md = yaml.safe_load_all(kcp_text)
    assert kcp["spec"]["machineTemplate"]["infrastructureRef"] == {
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "OCIMachineTemplate", "name": name}
    assert kcp["spec"]["rolloutStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    assert md["spec"]["template"]["spec"]["version"] == "v1.29.8"            # the pool's own step comes later
    assert kcp_text.split("---\n")[1] == KCP.split("---\n")[1]               # byte for byte
    assert e.observe_desired(dict(change.files) | {"c1/templates/all.yaml": TEMPLATES}, "c1", CLUSTER,
                             step) == (True, "v1.30.4")


def test_pool_step_edits_the_machine_deployment():
    e = _edits()
    step = Step(Component.NODE_POOL, to="v1.30.4", from_="v1.29.8", pool="md-0", max_surge=1, max_unavailable=0)
    change = e.compute_change(FILES, "c1", CLUSTER, step)
    _, md = yaml.safe_load_all(change.files["c1/kcp.yaml"])
    assert md["spec"]["template"]["spec"]["version"] == "v1.30.4"
    assert md["spec"]["template"]["spec"]["infrastructureRef"]["name"].startswith("c1-md-0-v1-30-4-")


def test_no_image_for_the_version_and_managed_topologies_are_refused():
    e = _edits()
    with pytest.raises(PermanentProviderError, match="no image for OCIMachineTemplate at v1.31.0"):
        e.compute_change(FILES, "c1", CLUSTER, Step(Component.CONTROL_PLANE, to="1.31.0", from_="v1.29.8"))
    topo = {"c1/cluster.yaml": "apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata: {name: c1}\n"
                               "spec: {topology: {class: quick-start, version: v1.29.8}}\n"}
    with pytest.raises(PermanentProviderError, match="managed topology"):
        e.compute_change(FILES | topo, "c1", CLUSTER, Step(Component.CONTROL_PLANE, to="1.30.4", from_="v1.29.8"))
