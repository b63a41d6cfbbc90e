"""OKE's upgrade rules for one cluster (pure; no SDK: the offline planner loads this without ``oci``).

Facts (inventory spelling, also filled by ``OkeProvider.discover()``):

- ``clusterType``: ``BASIC_CLUSTER`` or ``ENHANCED_CLUSTER`` (``oci.container_engine.models.Cluster.type``,
  allowed values "BASIC_CLUSTER", "ENHANCED_CLUSTER").
- ``bareMetalPools``: names of node pools whose ``nodeShape`` is a bare-metal shape (``BM.*``).

Rules, each from Oracle's documentation (docs/fidelity/oke.md lists them with what the emulator models):

- Node cycling exists only on ENHANCED clusters: "You can only cycle nodes to perform an in-place managed node
  Kubernetes upgrade when using enhanced clusters."
  https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengupgradingk8sworkernode_topic-Performing_an_InPlace_Worker_Node_Upgrade_by_Cycling_an_Existing_Node_Pool.htm
  Without cycling, a node pool's new Kubernetes version reaches only nodes created later ("By default when you
  update a node pool, only new nodes that are added during this update or that are added later receive the
  updates", Oracle's "Node Cycling an OKE Node Pool"). So on a BASIC cluster fleet cannot upgrade a pool's
  existing nodes: every pool is blocked (never reported done while its kubelets stay old).
- "You cannot cycle nodes with bare metal shapes. Instead, upgrade nodes with bare metal shapes by manually
  replacing existing nodes or the existing node pool." (same page): bare-metal pools are blocked.
- OKE has no blue-green node pool upgrade; the knobs are ``nodePoolCyclingDetails.maximumSurge`` /
  ``maximumUnavailable`` and ``nodeEvictionNodePoolSettings.evictionGraceDuration``
  (oci.container_engine.models.NodePoolCyclingDetails / NodeEvictionNodePoolSettings).
- Skew between pools and the control plane: the Kubernetes version skew policy (OKE states no other rule;
  UpgradeRules.pool_skew None).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fleet.provider import Cluster, PoolStrategy, UpgradeRules

BASIC = "BASIC_CLUSTER"
ENHANCED = "ENHANCED_CLUSTER"
BARE_METAL_PREFIX = "BM."          # OCI shape names: BM.Standard.E5.192, BM.GPU.H100.8, ...

CYCLING_DOC = ("https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengupgradingk8sworkernode_topic-"
               "Performing_an_InPlace_Worker_Node_Upgrade_by_Cycling_an_Existing_Node_Pool.htm")
BASIC_REASON = ("OKE cycles nodes only on ENHANCED clusters; on this BASIC cluster a node pool's new Kubernetes "
                "version reaches only nodes created later, so the existing nodes would stay old. Upgrade the cluster "
                "to ENHANCED_CLUSTER, or replace the nodes or the node pool by hand (" + CYCLING_DOC + ")")
BARE_METAL_REASON = ("OKE cannot cycle nodes with bare metal shapes: replace the nodes or the node pool by hand "
                     "(" + CYCLING_DOC + ")")


class Facts(BaseModel):
    """Per-cluster facts that change OKE's upgrade rules (``facts:`` of an inventory cluster of type oke)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cluster_type: Literal["BASIC_CLUSTER", "ENHANCED_CLUSTER"] | None = Field(
        None, alias="clusterType",
        description="OKE cluster type (Cluster.type). Node cycling, which fleet uses to upgrade a pool's existing "
                    "nodes, exists only on ENHANCED_CLUSTER; on BASIC_CLUSTER every node pool step is blocked. "
                    "Unset: assumed ENHANCED_CLUSTER.")
    bare_metal_pools: list[str] = Field(
        default_factory=list, alias="bareMetalPools",
        description="Node pools with a bare-metal shape (BM.*); OKE cannot cycle their nodes, so their steps are "
                    "blocked.")


def is_bare_metal(shape: str | None) -> bool:
    return bool(shape) and str(shape).startswith(BARE_METAL_PREFIX)


def compute_rules(cluster: Cluster) -> UpgradeRules:
    """OKE's rules for ``cluster`` from its facts (invalid facts raise pydantic.ValidationError)."""
    facts = Facts.model_validate(dict(cluster.facts or {}))
    blocked: dict[str, str] = {}
    for pool in cluster.node_pools:
        if facts.cluster_type == BASIC:
            blocked[pool.name] = BASIC_REASON
        elif pool.name in facts.bare_metal_pools:
            blocked[pool.name] = BARE_METAL_REASON
    return UpgradeRules(
        blocked_pools=blocked,
        strategies=frozenset({PoolStrategy.SURGE}),          # no blue-green node pool upgrade on OKE
        knobs=frozenset({"maxSurge", "maxUnavailable", "drainTimeout"}),
    )
