"""Cluster API's upgrade rules for one cluster (pure; no SDK: the offline planner loads this without ``kubernetes``).

Facts (inventory spelling, also filled by ``CapiProvider.discover()``):

- ``clusterClassVersions``: ``spec.kubernetesVersions`` of the cluster's ClusterClass (v1beta2; also on v1beta1
  since CAPI 1.11), e.g. ``["v1.30.4", "v1.31.2"]``.
- ``topology``: the cluster has a managed topology (``Cluster.spec.topology``, a ClusterClass); discovery
  sets it, an inventory may state it.

Rules (sources: kubernetes-sigs/cluster-api at commit ae7ff047db499ac3858ade268ba38db8c9f128bb; docs/fidelity/capi.md):

- A ClusterClass cluster may only move to a version in ``ClusterClass.spec.kubernetesVersions`` when the class
  lists them: core/webhooks/admission/cluster.go ``ValidateClusterForClusterClass`` ("If the ClusterClass
  defines a list of versions, check the version is one of them") -> UpgradeRules.allowed_versions.
- With a managed topology the control plane and the MachineDeployments follow ``spec.topology.version``
  (CAPI's topology controller sequences them): no node-pool steps -> pools_follow_control_plane.
- KubeadmControlPlane moves at most one minor per update (controlplane/kubeadm/webhooks/admission/
  kubeadmcontrolplane.go ``validateVersion``): the planner's one-control-plane-minor-per-step already holds it.
- Node pools (MachineDeployments) and the control plane: the Kubernetes version skew policy (CAPI adds none).
- KCP rollout: maxSurge 0 or 1 only; MachineDeployments: maxSurge/maxUnavailable, drain timeout (budget.py).
- ``controlPlaneKind`` (discovery sets it for managed control planes; pools.py, managed.py): the managed cloud's
  rules, as the native providers state them (providers/eks|oke|aks|gke rules.py): EKS (AWSManagedControlPlane)
  node groups at the control plane's minor before its next minor, one minor per node-group update (CAPA
  ``pkg/cloud/services/eks/nodegroup.go`` steps one minor per UpdateNodegroupVersion), knob maxUnavailable
  only (``AWSManagedMachinePool.spec.updateConfig``); OKE (OCIManagedControlPlane): maxSurge/maxUnavailable
  (``nodePoolCyclingDetails``) and drainTimeout (``nodeEvictionNodePoolSettings``), pools of a BASIC cluster (fact ``clusterType``) blocked as providers/oke/rules.py
  does; AKS: pools within two minors, one minor per pool upgrade (providers/aks/rules.py); AKS, GKE: no budget
  field in the CAPZ/CAPG pool CRDs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fleet.provider import Cluster, PoolStrategy, UpgradeRules

OKE_BASIC_REASON = ("OKE cycles nodes only on ENHANCED clusters; on this BASIC cluster (OCIManagedControlPlane "
                    "spec.clusterType) a node pool's new version reaches only nodes created later. Move the cluster "
                    "to ENHANCED_CLUSTER or replace the nodes by hand")


class Facts(BaseModel):
    """Per-cluster facts that change Cluster API's upgrade rules (``facts:`` of an inventory cluster of type capi)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cluster_class_versions: list[str] | None = Field(
        None, alias="clusterClassVersions",
        description="ClusterClass spec.kubernetesVersions of the cluster's class: the only versions its "
                    "Cluster.spec.topology.version may be set to. Unset: the class lists none.")
    control_plane_kind: str | None = Field(
        None, alias="controlPlaneKind",
        description="The kind of a managed control plane (AWSManagedControlPlane, OCIManagedControlPlane, "
                    "AzureManagedControlPlane, GCPManagedControlPlane); unset: KubeadmControlPlane.")
    cluster_type: str | None = Field(
        None, alias="clusterType",
        description="OCIManagedControlPlane spec.clusterType (BASIC_CLUSTER or ENHANCED_CLUSTER): OKE cycles the "
                    "nodes of a pool only on ENHANCED clusters, so the pools of a BASIC one are blocked.")
    topology: bool = Field(
        False, description="The cluster has a managed topology (a ClusterClass): node pools follow the control "
                           "plane. Implied by clusterClassVersions.")


def compute_rules(cluster: Cluster) -> UpgradeRules:
    """Cluster API's rules for ``cluster`` from its facts (invalid facts raise pydantic.ValidationError)."""
    facts = Facts.model_validate(dict(cluster.facts or {}))
    versions = tuple(facts.cluster_class_versions) if facts.cluster_class_versions else None
    kind = facts.control_plane_kind
    if kind == "AWSManagedControlPlane":
        return UpgradeRules(pools_match_before_cp_minor=True, pool_minor_step=1,
                            strategies=frozenset({PoolStrategy.SURGE}), knobs=frozenset({"maxUnavailable"}))
    if kind == "OCIManagedControlPlane":
        blocked = {p.name: OKE_BASIC_REASON for p in cluster.node_pools} if facts.cluster_type == "BASIC_CLUSTER" else {}
        return UpgradeRules(blocked_pools=blocked, strategies=frozenset({PoolStrategy.SURGE}),
                            knobs=frozenset({"maxSurge", "maxUnavailable", "drainTimeout"}))
    if kind == "AzureManagedControlPlane":
        # as providers/aks/rules.py: pools within two minors of the control plane, one minor per pool upgrade
        return UpgradeRules(pool_skew=2, pool_minor_step=1, strategies=frozenset({PoolStrategy.SURGE}),
                            knobs=frozenset())
    if kind == "GCPManagedControlPlane":
        return UpgradeRules(strategies=frozenset({PoolStrategy.SURGE}), knobs=frozenset())
    if kind is not None:
        raise ValueError(f"controlPlaneKind {kind!r} is not a managed control plane kind Cluster API fleet knows")
    return UpgradeRules(
        pools_follow_control_plane=cluster.pools_follow_control_plane or facts.topology or versions is not None,
        allowed_versions=versions,
        strategies=frozenset({PoolStrategy.SURGE}),
        knobs=frozenset({"maxSurge", "maxUnavailable", "drainTimeout"}),
    )
