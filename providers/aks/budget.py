"""Translate a fleet Step's budget knobs into AKS ``AgentPoolUpgradeSettings`` (pure functions).

AKS takes ``maxSurge`` / ``maxUnavailable`` as an int or a percentage string and resolves percentages
against the pool size at upgrade time, rounding UP for both. fleet rounds maxSurge up too, so a percentage
maxSurge is passed through literally. fleet rounds maxUnavailable DOWN: a percentage maxUnavailable is passed
literally only when AKS's rounding gives the same node count; otherwise the resolved integer is sent (keeping
the user's intent) and a warning says so. ``drainTimeoutInMinutes`` (1..1440) and
``nodeSoakDurationInMinutes`` (0..30) come from the step's seconds, rounded up to whole minutes and clamped.
AKS has no blue-green node pool upgrade in its GA API: a blue-green step is warned about and runs as a
rolling surge upgrade.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fleet.provider import Cluster, Component, Step

# AgentPoolUpgradeSettings in managedClusters.json (2026-08-01): drainTimeoutInMinutes minimum 1, maximum 1440;
# nodeSoakDurationInMinutes minimum 0, maximum 30 (providers/aks/emulator/spec/ carries the extract)
DRAIN_MINUTES = (1, 1440)
SOAK_MINUTES = (0, 30)
_PCT = re.compile(r"^\s*(\d+)\s*%\s*$")


def _pct(spec: str | None) -> float | None:
    mt = _PCT.match(spec) if spec else None
    return float(mt.group(1)) if mt else None


def _knob(name: str, spec: str | None, resolved: int | None, nodes: int | None,
          warnings: list[str], fleet_rounding: str) -> str | None:
    pct = _pct(spec)
    if pct is not None:
        if nodes is None or resolved is None:
            return f"{spec.strip()}" if spec else None
        aks = math.ceil(pct * nodes / 100)
        if aks == resolved:
            return spec.strip() if spec else None
        warnings.append(f"{name} {spec}: AKS rounds percentages up ({aks} of {nodes} nodes) but fleet rounds "
                        f"{fleet_rounding} ({resolved}); sending {name}={resolved} to keep the policy's budget")
        return str(resolved)
    if resolved is not None:
        return str(resolved)
    return spec.strip() if spec else None


def _minutes(name: str, seconds: int | None, bounds: tuple[int, int], warnings: list[str]) -> int | None:
    if seconds is None:
        return None
    minutes = math.ceil(seconds / 60)
    if seconds % 60:
        warnings.append(f"{name}: AKS takes whole minutes; {seconds}s is rounded up to {minutes}m")
    lo, hi = bounds
    if minutes < lo or minutes > hi:
        clamped = min(max(minutes, lo), hi)
        warnings.append(f"{name}: AKS accepts {lo}..{hi} minutes; {minutes}m is clamped to {clamped}m")
        minutes = clamped
    return minutes


def compute_upgrade_settings(cluster: Cluster, step: Step) -> tuple[dict[str, Any], list[str]]:
    """(upgradeSettings camelCase dict for the agent pool PUT, warnings). Control-plane steps get ({}, ...)."""
    warnings: list[str] = []
    if step.component is Component.CONTROL_PLANE:
        if cluster.auto_upgrade:
            warnings.append(f"cluster is on AKS auto-upgrade ({cluster.auto_upgrade}): AKS may upgrade it on its "
                            "own schedule as well; consider setting the channel to 'none' while fleet manages it")
        return {}, warnings
    pool = cluster.pool(step.pool or "")
    nodes = pool.nodes if pool is not None else None
    modes = cluster.extra.get("poolModes") or {}
    if step.strategy == "blue-green":
        warnings.append(f"AKS has no blue-green node pool upgrade: pool {step.pool} gets a rolling surge upgrade "
                        "(maxSurge/maxUnavailable below); blue-green batch size and soak settings are ignored")
    elif step.strategy != "surge":
        warnings.append(f"unknown strategy {step.strategy!r}: AKS runs a rolling surge upgrade")
    out: dict[str, Any] = {}
    surge = _knob("maxSurge", step.max_surge_spec, step.max_surge, nodes, warnings, "up")
    unavailable = _knob("maxUnavailable", step.max_unavailable_spec, step.max_unavailable, nodes, warnings, "down")
    if surge is not None and unavailable is not None and _zero(surge) and _zero(unavailable):
        warnings.append("AKS needs maxSurge > 0 when maxUnavailable is 0; sending maxSurge=1")
        surge = "1"
    if unavailable is not None and not _zero(unavailable) and modes.get(step.pool) == "System":
        warnings.append(f"pool {step.pool} is a System pool: AKS may not honour maxUnavailable there "
                        "(system pools upgrade by surge); consider maxSurge instead")
    if surge is not None:
        out["maxSurge"] = surge
    if unavailable is not None:
        out["maxUnavailable"] = unavailable
    drain = _minutes("drainTimeout", step.drain_timeout_seconds, DRAIN_MINUTES, warnings)
    if drain is not None:
        out["drainTimeoutInMinutes"] = drain
    soak = _minutes("nodeSoak", step.node_soak_seconds, SOAK_MINUTES, warnings)
    if soak is not None:
        out["nodeSoakDurationInMinutes"] = soak
    return out, warnings


def _zero(value: str) -> bool:
    pct = _pct(value)
    return (pct == 0) if pct is not None else value.strip() == "0"
