"""fleet's node-pool budgets as GKE ``NodePool.UpgradeSettings``, and what GKE cannot honour (pure, no SDK).

GKE takes integer ``maxSurge``/``maxUnavailable`` (no percentages): a policy percentage reaches us already
resolved to an int by the engine, and we warn when that resolution rounded. ``strategy: blue-green`` maps to
``BLUE_GREEN`` with a ``standardRolloutPolicy`` (``batchNodeCount`` or ``batchPercentage``, exclusive;
``batchSoakDuration``) and ``nodePoolSoakDuration``. GKE has no per-node soak.

``drainTimeout`` goes to ``UpdateNodePoolRequest.nodeDrainConfig.pdbTimeoutDuration`` (container.v1.json,
``NodeDrainConfig``: "The duration of the PDB timeout period for node drain"; the other fields are
``graceTerminationDuration`` and ``respectPdbDuringNodePoolDeletion``, which fleet does not set). The API
reference says no more than that one sentence. GKE's upgrade documentation (the Autopilot upgrade page, read for
this; fleet earlier said the same of Standard pools) says PodDisruptionBudgets are honoured for up to one hour
while a node drains and does not mention this field, so whether (and how) it changes that hour during a version
upgrade is not documented; docs/fidelity/gke.md says so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fleet.provider import BlueGreen, Cluster, Component, Step

STRATEGIES = ("surge", "blue-green")


def _percent(spec: str | None) -> float | None:
    if spec is None or not str(spec).strip().endswith("%"):
        return None
    try:
        return float(str(spec).strip()[:-1])
    except ValueError:
        return None


def compute_upgrade_settings(step: Step) -> dict[str, Any] | None:
    """The ``upgrade_settings`` of an UpdateNodePoolRequest (proto-plus field names; None = send none, the
    pool keeps its own). Unknown strategies are treated as surge (``check_step`` warns)."""
    if step.component is not Component.NODE_POOL:
        return None
    if step.strategy == "blue-green":
        bg = step.blue_green or BlueGreen()
        rollout: dict[str, Any] = {}
        if bg.batch_node_count:
            rollout["batch_node_count"] = bg.batch_node_count
        elif bg.batch_percentage is not None:
            rollout["batch_percentage"] = bg.batch_percentage
        if bg.batch_soak_seconds is not None:
            rollout["batch_soak_duration"] = timedelta(seconds=bg.batch_soak_seconds)
        settings: dict[str, Any] = {"standard_rollout_policy": rollout}
        if bg.node_pool_soak_seconds is not None:
            settings["node_pool_soak_duration"] = timedelta(seconds=bg.node_pool_soak_seconds)
        return {"strategy": "BLUE_GREEN", "blue_green_settings": settings}
    if step.max_surge is None and step.max_unavailable is None:
        return None
    return {"strategy": "SURGE", "max_surge": step.max_surge or 0, "max_unavailable": step.max_unavailable or 0}


def compute_drain_config(step: Step) -> dict[str, Any] | None:
    """The ``node_drain_config`` of an UpdateNodePoolRequest (proto-plus names; None = send none)."""
    if step.component is not Component.NODE_POOL or step.drain_timeout_seconds is None:
        return None
    return {"pdb_timeout_duration": timedelta(seconds=step.drain_timeout_seconds)}


def check_step(cluster: Cluster, step: Step) -> list[str]:
    """Warnings for the knobs of ``step`` GKE cannot honour as written."""
    if step.component is not Component.NODE_POOL:
        return []
    warnings: list[str] = []
    if (cluster.facts or {}).get("autopilot"):
        return [f"GKE Autopilot refuses node-pool updates ({step.pool}): its nodes follow the control plane"]
    pool = cluster.pool(step.pool or "")
    if step.strategy not in STRATEGIES:
        warnings.append(f"GKE has no node-pool strategy {step.strategy!r}; SURGE is used")
    if step.strategy == "blue-green":
        warnings += _check_blue_green(step)
    else:
        warnings += _check_surge(cluster, step, pool.nodes if pool else None)
    if step.node_soak_seconds is not None:
        warnings.append(f"GKE has no per-node soak (nodeSoak {step.node_soak_seconds}s ignored); "
                        "blue-green batchSoakDuration soaks per batch")
    return warnings


def _check_surge(cluster: Cluster, step: Step, nodes: int | None) -> list[str]:
    out = []
    for knob, spec, resolved in (("maxSurge", step.max_surge_spec, step.max_surge),
                                 ("maxUnavailable", step.max_unavailable_spec, step.max_unavailable)):
        pct = _percent(spec)
        if pct is None or resolved is None:
            continue
        if nodes is None:
            out.append(f"GKE takes an integer {knob}: policy {spec} was resolved to {resolved} node(s)")
            continue
        exact = pct * nodes / 100.0
        if abs(exact - resolved) > 1e-9:
            out.append(f"GKE takes an integer {knob}: policy {spec} of {nodes} nodes is {exact:g}, "
                       f"rounded to {resolved}")
    if step.max_surge == 0 and step.max_unavailable == 0:
        out.append("GKE refuses maxSurge=0 with maxUnavailable=0: at least one must be positive")
    zones = (cluster.extra.get("poolZones") or {}).get(step.pool or "")
    if zones and zones > 1 and (step.max_surge or step.max_unavailable):
        out.append(f"GKE applies maxSurge/maxUnavailable per zone: pool {step.pool} spans {zones} zones, so up "
                   f"to {zones * ((step.max_surge or 0) + (step.max_unavailable or 0))} nodes may upgrade at once")
    return out


def _check_blue_green(step: Step) -> list[str]:
    out = []
    if step.max_surge_spec is not None or step.max_unavailable_spec is not None:
        out.append("GKE BLUE_GREEN ignores maxSurge/maxUnavailable; batches come from batchNodeCount/"
                   "batchPercentage")
    bg = step.blue_green
    if bg is None:
        return out
    if bg.batch_node_count is not None and bg.batch_percentage is not None:
        out.append(f"GKE takes batchNodeCount or batchPercentage, not both: batchNodeCount "
                   f"{bg.batch_node_count} is used")
    if bg.batch_node_count is not None and bg.batch_node_count <= 0:
        out.append(f"GKE batchNodeCount must be at least 1 ({bg.batch_node_count} is treated as unset)")
    if bg.batch_percentage is not None and not 0.0 < bg.batch_percentage <= 1.0 and not bg.batch_node_count:
        out.append(f"GKE batchPercentage must be in (0, 1]; {bg.batch_percentage} will be refused")
    return out
