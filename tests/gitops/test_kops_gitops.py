"""kops clusters kept in Git: the Cluster's spec.kubernetesVersion for a control-plane step, the instance group's
rollingUpdate knobs for a pool step, comments and formatting kept (providers/kops/gitops.py)."""

from __future__ import annotations

import pytest

from fleet.errors import PermanentProviderError
from fleet.provider import Cluster, Component, Step
from providers.kops.gitops import KopsGitOps

MANIFESTS = """\
# kops get cluster prod.k8s.local -o yaml (applied with kops replace -f)
apiVersion: kops.k8s.io/v1alpha2
kind: Cluster
metadata:
  name: prod.k8s.local
spec:
  cloudProvider: aws
  kubernetesVersion: 1.29.8   # the pipeline rolls after a merge
  networking:
    cilium: {}
---
apiVersion: kops.k8s.io/v1alpha2
kind: InstanceGroup
metadata:
  labels:
    kops.k8s.io/cluster: prod.k8s.local
  name: nodes-a
spec:
  role: Node
  minSize: 4
  maxSize: 6
"""
CLUSTER = Cluster("kops", "s3:state", "prod.k8s.local", control_plane="1.29.8")
FILES = {"kops/prod/cluster.yaml": MANIFESTS}


def test_control_plane_step_sets_kubernetes_version_only():
    e = KopsGitOps(inner=None)
    step = Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.8")
    change = e.compute_change(FILES, "kops/prod", CLUSTER, step)
    assert change.files == {"kops/prod/cluster.yaml": MANIFESTS.replace("1.29.8   #", "1.30.4   #")}
    assert e.observe_desired(FILES, "kops/prod", CLUSTER, step) == (False, "1.29.8")
    assert e.observe_desired(dict(change.files), "kops/prod", CLUSTER, step) == (True, "1.30.4")
    # already asked for: nothing to propose
    assert not e.compute_change(dict(change.files), "kops/prod", CLUSTER, step).files


def test_pool_step_writes_the_instance_group_rolling_update_knobs():
    e = KopsGitOps(inner=None)
    files = {"kops/prod/cluster.yaml": MANIFESTS.replace("1.29.8   #", "1.30.4   #")}
    step = Step(Component.NODE_POOL, to="1.30.4", from_="1.29.8", pool="nodes-a", max_surge=2, max_unavailable=0)
    change = e.compute_change(files, "kops/prod", CLUSTER, step)
    text = change.files["kops/prod/cluster.yaml"]
    assert "  rollingUpdate:\n    maxSurge: 2\n" in text
    assert text.startswith("# kops get cluster prod.k8s.local")
    # the Cluster document is byte for byte the same
    assert text.split("---\n")[0] == files["kops/prod/cluster.yaml"].split("---\n")[0]


def test_a_pool_cannot_move_ahead_of_the_cluster_version():
    e = KopsGitOps(inner=None)
    step = Step(Component.NODE_POOL, to="1.30.4", from_="1.29.8", pool="nodes-a", max_surge=1)
    with pytest.raises(PermanentProviderError, match="every instance group the cluster's"):
        e.compute_change(FILES, "kops/prod", CLUSTER, step)
