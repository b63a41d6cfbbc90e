"""Translate a fleet Step's budget knobs into kops' (pure functions, table-tested).

kops knobs: an instance group's ``spec.rollingUpdate.maxSurge`` / ``maxUnavailable`` (int or percent; surge
percentages round up, unavailable percentages round down but never below 1; an unset maxSurge is 1 on AWS
and 0 elsewhere, an unset maxUnavailable 1 when the surge is 0 (pkg/instancegroups/settings.go); both zero is
rejected by kops validation; surge is forbidden on control-plane groups (pkg/apis/kops/validation/validation.go
validateRollingUpdate)) and the ``kops rolling-update`` flags
``--drain-timeout`` and ``--node-interval`` / ``--control-plane-interval`` (the wait after each replaced
instance, which is where a per-node soak goes). Surging works by detaching instances from their autoscaling
group, which kops implements on AWS. kops has no blue-green strategy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fleet.provider import Component, Step


@dataclass(frozen=True)
class Translation:
    fields: dict[str, str] = field(default_factory=dict)    # kops edit instancegroup --set KEY=VALUE
    flags: list[str] = field(default_factory=list)          # extra kops rolling-update flags
    warnings: list[str] = field(default_factory=list)


def _knob(spec: str | None, value: int | None) -> int | str | None:
    """The literal policy value when it is a percentage (kops takes percentages natively), else the int."""
    if spec is not None and str(spec).strip().endswith("%"):
        return str(spec).strip()
    if value is not None:
        return int(value)
    if spec is not None and str(spec).strip().isdigit():
        return int(str(spec).strip())
    return None


def kops_default_surge(cloud: str, manager: str | None) -> int:
    """kops' maxSurge when neither the group nor the cluster sets one: 1 on AWS (not for Karpenter-managed
    groups), else 0 (kubernetes/kops pkg/instancegroups/settings.go resolveSettings; pkg/apis/kops/cluster.go
    RollingUpdate.MaxSurge "Defaults to 1 on AWS, 0 otherwise"). The Spotinst feature flag, which also makes it
    0, is not modelled."""
    return 1 if cloud.lower() == "aws" and manager != "Karpenter" else 0


def kops_resolve(surge: int | str | None, unavailable: int | str | None, nodes: int, *, cloud: str = "aws",
                 manager: str | None = None) -> tuple[int, int]:
    """What kops' resolveSettings makes of the two knobs for a group of ``nodes`` instances: surge percentages
    round up, unavailable percentages down but to at least 1; an unset maxUnavailable is 1 when the resolved
    surge is 0, else 0 (pkg/instancegroups/settings.go; rolling-update.md "maxUnavailable")."""
    if surge is None:
        surge = kops_default_surge(cloud, manager)
    s = math.ceil(int(surge[:-1]) * nodes / 100) if isinstance(surge, str) else surge
    if unavailable is None:
        u = 1 if s == 0 else 0
    elif isinstance(unavailable, str):
        u = max(1, math.floor(int(unavailable[:-1]) * nodes / 100))
    else:
        u = unavailable
    return s, u


def _duration_flags(step: Step, interval_flag: str) -> list[str]:
    flags: list[str] = []
    if step.drain_timeout_seconds:
        flags += ["--drain-timeout", f"{int(step.drain_timeout_seconds)}s"]
    if step.node_soak_seconds:
        flags += ["--" + interval_flag, f"{int(step.node_soak_seconds)}s"]
    return flags


def _pool_fields(step: Step, surge: int | str | None, unavailable: int | str | None, nodes: int, cloud: str,
                 manager: str | None, warnings: list[str]) -> dict[str, str]:
    """The instance group's ``spec.rollingUpdate`` fields for a node-pool step (appends to ``warnings``)."""
    if surge is None and unavailable is None:
        return {}
    fields: dict[str, str] = {}
    s, u = kops_resolve(surge, unavailable, nodes, cloud=cloud, manager=manager)
    if s == 0 and u == 0:
        warnings.append("kops rejects maxSurge=0 together with maxUnavailable=0; using maxUnavailable=1")
        unavailable, u = 1, 1
    fleet = (step.max_surge, step.max_unavailable)
    if (isinstance(surge, str) or isinstance(unavailable, str)) and None not in fleet and fleet != (s, u):
        warnings.append(f"kops resolves maxSurge={surge}, maxUnavailable={unavailable} on {nodes} nodes to "
                        f"{s}/{u} (fleet resolved {fleet[0]}/{fleet[1]}): kops rounds unavailable "
                        "percentages down but never below 1")
    if s > 0 and cloud.lower() != "aws":
        warnings.append(f"kops surges by detaching instances from their autoscaling group, which it implements "
                        f"on AWS; on {cloud} maxSurge={surge} may not be honoured")
    if surge is None and s:
        warnings.append(f"maxSurge is not set, so kops surges {s} new instance(s) at a time on {cloud} (its "
                        f"default) on top of maxUnavailable={unavailable}; set maxSurge: 0 to roll without "
                        "extra instances")
    if surge is not None:
        fields["spec.rollingUpdate.maxSurge"] = str(surge)
    if unavailable is not None:
        fields["spec.rollingUpdate.maxUnavailable"] = str(unavailable)
    return fields


def translate_step(step: Step, *, nodes: int, cloud: str = "aws", manager: str | None = None) -> Translation:
    warnings: list[str] = []
    if step.strategy == "blue-green" or step.blue_green is not None:
        what = "the control plane" if step.component is Component.CONTROL_PLANE else f"instance group {step.pool}"
        warnings.append(f"kops has no blue-green strategy: {what} is rolled in place, instance by instance "
                        "(blue-green batch and soak settings are ignored)")
    surge = _knob(step.max_surge_spec, step.max_surge)
    unavailable = _knob(step.max_unavailable_spec, step.max_unavailable)
    if step.component is Component.CONTROL_PLANE:
        if surge not in (None, 0, "0%"):
            warnings.append(f"kops never surges control-plane instance groups (maxSurge={surge} is forbidden "
                            "there); control-plane instances are replaced one at a time")
        if unavailable not in (None, 0, 1, "0%"):
            warnings.append(f"maxUnavailable={unavailable} is not applied to control-plane instance groups; kops "
                            "replaces them one at a time")
        return Translation({}, _duration_flags(step, "control-plane-interval"), warnings)

    if manager == "Karpenter":
        warnings.append(f"instance group {step.pool} is managed by Karpenter: kops rolling-update skips it and "
                        "Karpenter replaces drifted nodes itself, so maxSurge/maxUnavailable do not apply")
    fields = _pool_fields(step, surge, unavailable, nodes, cloud, manager, warnings)
    return Translation(fields, _duration_flags(step, "node-interval"), warnings)
