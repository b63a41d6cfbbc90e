"""The simulated provider's upgrade rules (no SDK, pure).

A simulated cluster that emulates another provider type (``provider_type`` eks, gke, ...: the forecast
mirrors every real cluster so) gets THAT type's rules, through the type's ``fleet.providers`` entry point,
from its facts: the simulation then plans and refuses what the real cloud would, so a forecast does not
predict success for a run that will halt. A cluster of type ``sim`` gets the rules its ``facts`` state
(the fields below), or fleet's defaults: a simulated cloud has no rules of its own beyond what is stated.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fleet.errors import MissingExtraError, ProviderNotFound
from fleet.provider import (
    DEFAULT_RULES,
    Cluster,
    Component,
    PoolStrategy,
    Step,
    UpgradeRules,
    load_provider_class,
    rules_for,
)
from fleet.versions import Version, max_kubelet_skew, parse_version


class Facts(BaseModel):
    """Facts of a ``sim`` cluster: the upgrade rules it is simulated with (all optional; unset: the defaults
    of fleet.provider.UpgradeRules)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poolSkew: int | None = Field(default=None, ge=0, description="Minors a node pool may trail the control plane "
                                                                 "(default: the kubelet skew policy).")
    poolMinorStep: int | None = Field(default=None, ge=1, description="Minors a node pool may move in one step.")
    poolsMatchBeforeCpMinor: bool = Field(default=False, description="Every pool must be at the control plane's "
                                                                     "minor before its next minor (as on EKS).")
    poolsFollowControlPlane: bool = Field(default=False, description="Nodes follow the control plane by "
                                                                     "themselves: no node-pool steps.")
    blockedPools: dict[str, str] = Field(default_factory=dict, description="Pools fleet cannot upgrade in place, "
                                                                           "with the reason.")
    strategies: list[Literal["surge", "blue-green"]] | None = Field(default=None, description="Node-pool strategies (default: all).")
    knobs: list[str] | None = Field(default=None, description="Policy knobs honoured (default: all).")
    maxMinor: str | None = Field(default=None, pattern=r"^\d+\.\d+$", description="Newest control-plane minor, "
                                                                                 "e.g. '1.30'.")
    maxMinorReason: str | None = Field(default=None, description="Why maxMinor is the limit.")
    allowedVersions: list[str] | None = Field(default=None, description="The only versions the control plane may "
                                                                        "move to.")


# a cluster of type ``sim`` simulates every strategy (surge, blue-green) unless its facts say otherwise
SIM_RULES = UpgradeRules(strategies=frozenset(PoolStrategy))


def _stated(facts: Facts) -> UpgradeRules:
    d = SIM_RULES
    mm = tuple(int(x) for x in facts.maxMinor.split(".")) if facts.maxMinor else None
    return UpgradeRules(
        pool_skew=facts.poolSkew, pool_minor_step=facts.poolMinorStep,
        pools_match_before_cp_minor=facts.poolsMatchBeforeCpMinor,
        pools_follow_control_plane=facts.poolsFollowControlPlane, blocked_pools=dict(facts.blockedPools),
        strategies=frozenset(map(PoolStrategy, facts.strategies)) if facts.strategies is not None else d.strategies,
        knobs=frozenset(facts.knobs) if facts.knobs is not None else d.knobs,
        max_minor=(mm[0], mm[1]) if mm else None, max_minor_reason=facts.maxMinorReason or "",
        allowed_versions=tuple(facts.allowedVersions) if facts.allowedVersions is not None else None,
    )


@functools.cache
def _emulated_class(kind: str) -> Any:
    """The provider class of an emulated type, found once through its entry point (None: not installed)."""
    try:
        return load_provider_class(kind)
    except (ProviderNotFound, MissingExtraError):
        return None


def compute_rules(cluster: Cluster) -> UpgradeRules:
    kind = cluster.provider_type
    if kind and kind != "sim":
        cls = _emulated_class(kind)
        # a type fleet does not know has no rules beyond the defaults
        return DEFAULT_RULES if cls is None else rules_for(cls, cluster)
    return _stated(Facts.model_validate(dict(cluster.facts))) if cluster.facts else SIM_RULES



def compute_refusal(cluster: Cluster, step: Step, rules: UpgradeRules) -> str | None:
    """Why the simulated cloud refuses ``step`` on ``cluster`` under ``rules`` (None: accepted). The rules
    are the emulated cloud's own (its providers/<type>/rules.py cites their sources); the simulation
    refuses what they forbid, so a forecast run halts where the real run would."""
    to = parse_version(step.to)
    if step.component is Component.CONTROL_PLANE:
        return _cp_refusal(cluster, to, rules)
    return _pool_refusal(cluster, step, to, rules)


def _cp_refusal(cluster: Cluster, to: Version, rules: UpgradeRules) -> str | None:
    cp = parse_version(cluster.control_plane)
    if rules.max_minor is not None and to.minor_key > rules.max_minor:
        return f"version {to} is beyond {rules.max_minor[0]}.{rules.max_minor[1]}: {rules.max_minor_reason}"
    if rules.allowed_versions is not None and not any(
            to.same_release(a) and a.same_release(to) for a in map(parse_version, rules.allowed_versions)):
        return f"version {to} is not among the cluster's allowed versions {list(rules.allowed_versions)}"
    follow = cluster.pools_follow_control_plane or rules.pools_follow_control_plane
    pools = {} if follow else {p.name: parse_version(p.version) for p in cluster.node_pools}
    if rules.pools_match_before_cp_minor and to.minor_key != cp.minor_key:
        behind = sorted(n for n, v in pools.items() if v.minor_key < cp.minor_key)
        if behind:
            return f"node pools {', '.join(behind)} must be updated to match the control plane's version {cp} first"
    skew = rules.pool_skew if rules.pool_skew is not None else max_kubelet_skew(to)
    far = sorted(n for n, v in pools.items() if to.minors_from(v) > skew)
    if far:
        return f"node pools {', '.join(far)} would be more than {skew} minors behind {to}"
    return None


def _pool_refusal(cluster: Cluster, step: Step, to: Version, rules: UpgradeRules) -> str | None:
    if cluster.pools_follow_control_plane or rules.pools_follow_control_plane:
        return "node pools follow the control plane: they are not upgraded on their own"
    name = step.pool or ""
    if name in rules.blocked_pools:
        return f"node pool {name}: {rules.blocked_pools[name]}"
    pool = cluster.pool(name)
    if pool is not None and rules.pool_minor_step and to.minors_from(parse_version(pool.version)) > rules.pool_minor_step:
        return f"node pool {step.pool} may move at most {rules.pool_minor_step} minor(s) per upgrade"
    if PoolStrategy(step.strategy) not in rules.strategies:
        return f"strategy {step.strategy} is not available"
    given = {"maxSurge": step.max_surge, "maxUnavailable": step.max_unavailable,
             "drainTimeout": step.drain_timeout_seconds, "nodeSoak": step.node_soak_seconds}
    unknown = [k for k, v in given.items() if v is not None and k not in rules.knobs]
    if unknown:
        return f"unknown parameters: {', '.join(unknown)}"
    return None
