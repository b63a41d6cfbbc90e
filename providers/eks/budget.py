"""Translate a Step's budget into an EKS ``NodegroupUpdateConfig`` (pure; no SDK).

EKS managed node groups honour ``maxUnavailable`` (1..100 nodes) OR ``maxUnavailablePercentage`` (1..100),
and ``updateStrategy`` ``DEFAULT`` (new nodes are launched before old ones are drained; EKS picks how many:
up to max(2 x AZ count, maxUnavailable)) or ``MINIMAL`` (old nodes go first, nothing extra is launched).

=====================================  ===============================================  ====================
Step                                   updateConfig                                     warning
=====================================  ===============================================  ====================
max_unavailable_spec "25%"             maxUnavailablePercentage=25                      -
max_unavailable_spec "12.5%"           maxUnavailablePercentage=13 (rounded up)         yes
max_unavailable_spec "0%"              maxUnavailable=1                                 yes
max_unavailable n (1..100)             maxUnavailable=n                                 -
max_unavailable 0                      maxUnavailable=1                                 yes
max_unavailable > 100                  maxUnavailable=100                               yes
max_surge 0                            updateStrategy=MINIMAL                           -
max_surge > 0                          updateStrategy=DEFAULT                           yes (surge not set)
strategy "blue-green" / blue_green     rolling update as above                          yes
drain_timeout_seconds != 900           -                                                yes (fixed 15 min)
node_soak_seconds > 0                  -                                                yes
=====================================  ===============================================  ====================

Nothing given leaves the node group's own updateConfig alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.provider import Component, Step
from fleet.versions import InvalidVersion, parse_version
from providers.cloud_budgets import eks_unavailable

EKS_DRAIN_SECONDS = 900          # EKS evicts pods for 15 minutes, then fails with PodEvictionFailure
_UNAVAILABLE_KEYS = ("maxUnavailable", "maxUnavailablePercentage")


def compute_update_config(step: Step) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``updateConfig`` to set before a node-group step (None: leave it) and the warnings."""
    if step.component is not Component.NODE_POOL:
        return None, compute_control_plane_warnings(step)
    # maxUnavailable (1..100) or maxUnavailablePercentage (whole): the rules CAPA's AWSManagedMachinePool shares
    unavailable, warn = eks_unavailable(step.max_unavailable_spec, step.max_unavailable)
    cfg: dict[str, Any] = dict(unavailable)
    if step.max_surge is not None:
        if step.max_surge <= 0:
            cfg["updateStrategy"] = "MINIMAL"
        else:
            cfg["updateStrategy"] = "DEFAULT"
            warn.append(f"EKS node groups take no maxSurge: EKS launches new nodes itself (up to max(2 x AZ "
                        f"count, maxUnavailable)); maxSurge={step.max_surge} is not honoured exactly")
    return (cfg or None), warn + _unhonoured(step)


def _unhonoured(step: Step) -> list[str]:
    """Warnings for the step's settings EKS node groups have no knob for."""
    warn = []
    if step.strategy == "blue-green" or step.blue_green is not None:
        warn.append("EKS managed node groups have no blue-green upgrade: a rolling update is used "
                    "(blue-green on EKS means creating a new node group); blue-green settings are ignored")
    if step.drain_timeout_seconds is not None and step.drain_timeout_seconds != EKS_DRAIN_SECONDS:
        warn.append(f"EKS drains each node for a fixed {EKS_DRAIN_SECONDS // 60} minutes (then PodEvictionFailure); "
                    f"drainTimeout={step.drain_timeout_seconds}s is not honoured")
    if step.node_soak_seconds:
        warn.append(f"EKS has no per-node soak; nodeSoak={step.node_soak_seconds}s is not honoured")
    return warn


def compute_control_plane_warnings(step: Step) -> list[str]:
    try:
        v = parse_version(step.to)
    except InvalidVersion:
        return []
    if v.patch is not None:
        return [(f"EKS control planes take a minor only: {v.minor_str} is requested for {step.to} "
                 "(AWS picks the patch)")]
    return []


def config_matches(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether the node group's updateConfig already has every knob of ``desired``."""
    cur = dict(current or {})
    for key in _UNAVAILABLE_KEYS:
        if key in desired:
            other = next(k for k in _UNAVAILABLE_KEYS if k != key)
            if cur.get(key) != desired[key] or cur.get(other) is not None:
                return False
    return "updateStrategy" not in desired or cur.get("updateStrategy", "DEFAULT") == desired["updateStrategy"]
