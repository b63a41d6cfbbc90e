"""AKS upgrade rules, in one place (pure; no SDK import: the offline planner loads this without the SDK).

Sources (see docs/fidelity/aks.md for the whole table):

- [SPEC] Azure/azure-rest-api-specs, specification/containerservice/resource-manager/Microsoft.ContainerService/
  aks/stable/2026-08-01/managedClusters.json (the newest stable api-version, the one azure-mgmt-containerservice
  41.8.0 sends), ``orchestratorVersion`` description, repeated in the SDK model docstrings
  (``ManagedClusterAgentPoolProfileProperties.orchestrator_version``): "The node pool version must have the same
  major version as the control plane. The node pool minor version must be within two minor versions of the
  control plane version. The node pool version cannot be greater than the control plane version."
- [DOCS-CP] learn.microsoft.com/azure/aks/upgrade-aks-control-plane, "Kubernetes version upgrade rules": minor
  versions cannot be skipped (1.28.x -> 1.30.x is not allowed); "the control plane can be at most two minor
  versions ahead of node pools" (control plane 1.30.x: pools may be 1.28.x, 1.29.x or 1.30.x).
- [AKS-1697] github.com/Azure/AKS/issues/1697 (and #1109, capz#1883): a pool jump is refused with 400
  ``AgentPoolUpgradeVersionNotAllowed`` "Upgrade agent pool version from 1.14.8 to 1.16.9 is not allowed, you
  can only upgrade one minor version at a time."

The upstream Kubernetes skew policy lets a kubelet trail the API server by three minors from 1.28; AKS's own
API specification (2026-08-01) and upgrade page still state two, and AKS is what accepts or refuses the PUT,
so fleet uses two. If AKS's documentation changes, this module is the one place to change.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fleet.provider import Cluster, PoolStrategy, UpgradeRules
from fleet.versions import InvalidVersion, parse_version

# [SPEC] "within two minor versions of the control plane version"; [DOCS-CP] "at most two minor versions ahead"
POOL_SKEW = 2
# [DOCS-CP] minor versions cannot be skipped; [AKS-1697] "you can only upgrade one minor version at a time"
POOL_MINOR_STEP = 1


class Facts(BaseModel):
    """Per-cluster facts of an AKS cluster that change its upgrade rules: none today.

    The skew limit, the one-minor step and the surge-only strategy hold for every AKS cluster (the sources
    above make no exception), so an AKS inventory entry takes no ``facts`` keys; the model is strict so a
    misspelt or unknown key is an error, not silently ignored.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def compute_rules(cluster: Cluster) -> UpgradeRules:
    """The AKS upgrade rules for ``cluster`` (pure; the same for every AKS cluster, see Facts)."""
    Facts.model_validate(dict(cluster.facts or {}))
    return UpgradeRules(
        pool_skew=POOL_SKEW,
        pool_minor_step=POOL_MINOR_STEP,
        # AKS lets the control plane run ahead of its pools within the skew ([DOCS-CP]): pools need not match
        # before the next control-plane minor, as long as none would fall more than POOL_SKEW behind
        pools_match_before_cp_minor=False,
        # the adapter upgrades the control plane only (every pool's orchestratorVersion is sent unchanged), so
        # pools do not follow by themselves
        pools_follow_control_plane=False,
        # AgentPoolUpgradeSettings ([SPEC]): maxSurge, maxUnavailable, drainTimeoutInMinutes,
        # nodeSoakDurationInMinutes; the adapter sends a rolling (surge) upgrade only
        strategies=frozenset({PoolStrategy.SURGE}),
        knobs=frozenset({"maxSurge", "maxUnavailable", "drainTimeout", "nodeSoak"}),
    )


def compute_pool_offers(pool_version: str, control_plane_offers: tuple[str, ...],
                        candidates: tuple[str, ...]) -> tuple[str, ...]:
    """The versions a pool at ``pool_version`` can reach in POOL_MINOR_STEP hops, each hop to a minor that
    exists in ``candidates`` and no newer than the newest control-plane offer (a pool never runs newer than its
    control plane, [SPEC]). A candidate whose minor can only be reached by skipping a missing minor is
    dropped: AKS would refuse the jump ([AKS-1697]) and no path of single-minor steps reaches it."""
    try:
        current = parse_version(pool_version)
    except InvalidVersion:
        return candidates
    ceiling = max((parse_version(v) for v in control_plane_offers), default=None)
    parsed = sorted({parse_version(v): v for v in candidates}.items())
    minors = {(p.major, p.minor) for p, _ in parsed}
    reach = (current.major, current.minor)
    while (reach[0], reach[1] + POOL_MINOR_STEP) in minors:
        reach = (reach[0], reach[1] + POOL_MINOR_STEP)
    return tuple(v for p, v in parsed
                 if (p.major, p.minor) <= reach and p >= current and (ceiling is None or p <= ceiling))
