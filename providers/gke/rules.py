"""GKE's upgrade rules per cluster (pure; no SDK import: the offline planner loads this without it).

Facts (inventory spelling, discovered from the Cluster resource by the adapter):

    autopilot: true    the cluster runs in Autopilot mode (``Cluster.autopilot.enabled``)

Sources (docs/fidelity/gke.md has the full table):
- Autopilot: "After GKE upgrades your Autopilot cluster control plane, GKE upgrades the nodes to the same GKE
  version"; Autopilot uses surge upgrades GKE manages (cloud.google.com/kubernetes-engine/docs/concepts/
  cluster-upgrades-autopilot), and its node pools "cannot be accessed or modified" through the API (400,
  see providers/gke/emulator/server.py AUTOPILOT_POOLS).
- Standard: per-pool ``UpgradeSettings`` with strategy SURGE (maxSurge, maxUnavailable) or BLUE_GREEN
  (container.v1.json ``UpgradeSettings``, ``BlueGreenSettings``); a drain PDB timeout per pool
  (``NodePool.NodeDrainConfig.pdbTimeoutDuration``, "The duration of the PDB timeout period for node drain").
- Node-pool skew: GKE follows the Kubernetes version skew policy (nodes never newer than the control plane,
  and at most the kubelet skew older), so ``pool_skew`` stays None (fleet's skew policy).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fleet.provider import Cluster, PoolStrategy, UpgradeRules

STANDARD_KNOBS = frozenset({"maxSurge", "maxUnavailable", "drainTimeout", "blueGreen"})


class Facts(BaseModel):
    """Per-cluster facts that change GKE's upgrade rules, as written in an inventory."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    autopilot: bool = Field(False, description="Autopilot cluster: GKE upgrades its nodes after the control "
                                               "plane by itself; fleet plans control-plane steps only")


def compute_rules(cluster: Cluster) -> UpgradeRules:
    """GKE's rules for ``cluster``, from ``cluster.facts`` (pure)."""
    facts = Facts.model_validate(dict(cluster.facts or {}))
    if facts.autopilot:
        # Autopilot: nodes follow the control plane (GKE upgrades them, surge, its own batch sizes); no
        # node-pool call is accepted, so no node-pool step and no knob reaches GKE.
        return UpgradeRules(pools_follow_control_plane=True, strategies=frozenset({PoolStrategy.SURGE}),
                            knobs=frozenset())
    # Standard: UpdateNodePool per pool, SURGE or BLUE_GREEN with their settings (container.v1.json).
    return UpgradeRules(strategies=frozenset({PoolStrategy.SURGE, PoolStrategy.BLUE_GREEN}),
                        knobs=STANDARD_KNOBS)
