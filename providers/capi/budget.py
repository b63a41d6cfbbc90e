"""Translate a Step's budget knobs into Cluster API fields, and say what cannot be honoured (pure).

Control plane (KubeadmControlPlane): only ``maxSurge`` 0 or 1 exists (0 = remove an old Machine first, for
capacity-limited infrastructure; 1 = add a new one first); Machines are always replaced one at a time.
Node pools (MachineDeployment): ``maxSurge`` / ``maxUnavailable`` as int or percentage, rounded like the
policy resolver (surge up, unavailable down, both 0 -> unavailable 1), so a policy percentage is passed
through literally; per-node soak -> ``minReadySeconds``; drain timeout -> ``nodeDrainTimeout`` (v1beta1) /
``deletion.nodeDrainTimeoutSeconds`` (v1beta2). Blue-green has no CAPI equivalent: approximated with a
full surge (``maxSurge: 100%``, ``maxUnavailable: 0``), batches and soaks are not honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleet.provider import Component, Step
from fleet.versions import InvalidVersion, parse_version
from providers.capi.objects import PoolKnobs, capi_version


def _percent(spec: str | None) -> str | None:
    return spec.strip() if isinstance(spec, str) and spec.strip().endswith("%") else None


def compute_kcp_surge(step: Step, default: int | None) -> tuple[int | None, list[str]]:
    """(maxSurge to set or None to leave the KCP's own, warnings)."""
    warnings: list[str] = []
    surge = step.max_surge if step.max_surge is not None else default
    if surge is not None and surge > 1:
        warnings.append(f"KubeadmControlPlane honours maxSurge 0 or 1 only: maxSurge {surge} becomes 1")
        surge = 1
    if step.max_unavailable is not None and step.max_unavailable > 1:
        warnings.append(f"KubeadmControlPlane replaces one Machine at a time: maxUnavailable {step.max_unavailable} "
                        "is not honoured (maxSurge 0 removes one Machine before adding one)")
    if step.strategy == "blue-green":
        warnings.append("KubeadmControlPlane has no blue-green strategy: it rolls Machines one at a time")
    return surge, warnings


def compute_pool_knobs(step: Step) -> tuple[PoolKnobs, list[str]]:
    warnings: list[str] = []
    if step.strategy == "blue-green":
        warnings.append("MachineDeployments have no blue-green strategy: approximated by maxSurge 100% and "
                        "maxUnavailable 0 (a full new MachineSet first, then the old Machines go); batch sizes and "
                        "soak times are not honoured")
        surge: int | str | None = "100%"
        unavailable: int | str | None = 0
    else:
        surge = _percent(step.max_surge_spec) or step.max_surge
        unavailable = _percent(step.max_unavailable_spec) or step.max_unavailable
    return PoolKnobs(surge, unavailable, step.node_soak_seconds, step.drain_timeout_seconds), warnings


def compute_warnings(extra: dict[str, Any], step: Step, images: dict[str, dict[str, str]],
                     cp_default_surge: int | None) -> list[str]:
    """check_step: everything a step cannot honour, and why it would be blocked (``blocked: ...``)."""
    to = capi_version(step.to)
    cp = extra.get("controlPlane") or {}
    mds = extra.get("machineDeployments") or {}

    def image_for(kind: str) -> list[str]:
        if kind and not any(_same(v, to) for v in images.get(kind, {})):
            return [f"blocked: no image for {kind} at {to} in settings.images; nothing will be changed"]
        return []

    listed = extra.get("clusterClassVersions")
    if listed:
        # ClusterClass spec.kubernetesVersions are the allow-list (rules.py), images come from the class
        w = [] if any(_same(v, to) for v in listed) else [
            f"blocked: {to} is not in the ClusterClass's kubernetesVersions ({', '.join(listed)})"]
        w += _topology_warnings(extra, step, cp, mds, lambda kind: [])
    elif extra.get("topology"):
        w = _topology_warnings(extra, step, cp, mds, image_for)
    elif step.component is Component.CONTROL_PLANE:
        w = image_for(cp.get("templateKind", "")) + _control_plane_warnings(step, to, cp_default_surge)
    else:
        w = _pool_warnings(step, mds.get(step.pool or ""), image_for)
    for what in extra.get("paused") or []:
        w.append(f"{what} is paused: Cluster API will not roll Machines until it is resumed")
    return w


def _topology_warnings(extra: dict[str, Any], step: Step, cp: dict[str, Any], mds: dict[str, Any],
                       image_for: Callable[[str], list[str]]) -> list[str]:
    w: list[str] = []
    for kind in sorted({cp.get("templateKind", "")} | {m.get("templateKind", "") for m in mds.values()}):
        w += image_for(kind)
    w.append("managed topology: changing spec.topology.version upgrades the control plane, then each "
             "MachineDeployment in spec.topology.workers order; budgets come from the topology, not the step")
    for md in extra.get("holdUpgradeSequence") or []:
        w.append(f"MachineDeployment {md} has topology.cluster.x-k8s.io/hold-upgrade-sequence: it and the "
                 "MachineDeployments after it are not upgraded until the annotation is removed")
    for md in extra.get("deferUpgrade") or []:
        w.append(f"MachineDeployment {md} has topology.cluster.x-k8s.io/defer-upgrade: it is skipped and the "
                 "upgrade does not complete until the annotation is removed")
    if step.component is Component.NODE_POOL:
        w.append("node pools of a managed topology follow the control plane: a node-pool step only waits")
    return w


def _control_plane_warnings(step: Step, to: str, cp_default_surge: int | None) -> list[str]:
    w = list(compute_kcp_surge(step, cp_default_surge)[1])
    try:
        if parse_version(to).minors_from(parse_version(step.from_)) > 1:
            w.append(f"blocked: KubeadmControlPlane cannot skip a minor ({step.from_} -> {to})")
    except InvalidVersion:
        w.append(f"blocked: {step.to!r} is not a Kubernetes version")
    return w


def _pool_warnings(step: Step, md: dict[str, Any] | None, image_for: Callable[[str], list[str]]) -> list[str]:
    if md is None:
        return [f"blocked: MachineDeployment {step.pool} not found"]
    w = image_for(md.get("templateKind", "")) + list(compute_pool_knobs(step)[1])
    if md.get("strategy") == "OnDelete":
        w.append(f"MachineDeployment {step.pool} uses the OnDelete strategy: Machines are only replaced when "
                 "deleted, so maxSurge/maxUnavailable do not apply and the step waits for those deletions")
    return w


def _same(a: str, b: str) -> bool:
    try:
        return parse_version(a) == parse_version(b)
    except InvalidVersion:
        return a == b
