"""Translate a fleet Step's budget into OKE's node pool knobs (pure; no SDK).

OKE cycles a node pool in place (``nodePoolCyclingDetails``): ``maximumSurge`` (default 1) and
``maximumUnavailable`` (default 0), each an integer from 0 to the pool size or a percentage 0%-100%, sent as
strings; they cannot both be 0. Pod eviction waits ``nodeEvictionNodePoolSettings.evictionGraceDuration``
(ISO 8601, PT0M-PT60M). OKE has no blue-green node pool upgrade and no per-node soak: those are warned.

Percentages in the policy (``max_surge_spec="25%"``) are passed to OKE as percentages, so OKE applies them to
the pool size it sees; integers are passed as integers, capped at the pool size. The knob rules themselves are
in providers/cloud_budgets.py (CAPOCI's OCIManagedMachinePool has the same fields: providers/capi/pools.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.provider import Step
from providers.cloud_budgets import OKE_DEFAULT_SURGE as DEFAULT_SURGE
from providers.cloud_budgets import OKE_DEFAULT_UNAVAILABLE as DEFAULT_UNAVAILABLE
from providers.cloud_budgets import OKE_MAX_GRACE_SECONDS as MAX_GRACE_SECONDS
from providers.cloud_budgets import oke_grace_duration as grace_duration
from providers.cloud_budgets import oke_surge_unavailable

__all__ = ["DEFAULT_SURGE", "DEFAULT_UNAVAILABLE", "MAX_GRACE_SECONDS", "CyclingPlan", "compute_cycling",
           "grace_duration"]


@dataclass(frozen=True)
class CyclingPlan:
    """What start() sends for a node pool step, and the warnings check_step() reports."""

    maximum_surge: str | None = DEFAULT_SURGE
    maximum_unavailable: str | None = DEFAULT_UNAVAILABLE
    cycle: bool = True
    eviction_grace: str | None = None
    warnings: list[str] = field(default_factory=list)


def compute_cycling(step: Step, pool_size: int | None) -> CyclingPlan:
    """The node pool knobs for ``step`` on a pool of ``pool_size`` nodes (None: unknown, no capping)."""
    warnings: list[str] = []
    if step.strategy == "blue-green" or step.blue_green is not None:
        warnings.append("OKE has no blue-green node pool upgrade: the pool is cycled in place with "
                        "maximumSurge/maximumUnavailable instead (blue-green batches and soaks are ignored)")
    if step.node_soak_seconds:
        warnings.append("OKE cannot soak between nodes while cycling a node pool: nodeSoakSeconds is ignored")
    grace = grace_duration(step.drain_timeout_seconds, warnings) if step.drain_timeout_seconds is not None else None
    if pool_size == 0:
        return CyclingPlan(None, None, cycle=False, eviction_grace=grace, warnings=warnings)
    surge, unavailable = oke_surge_unavailable(step.max_surge_spec, step.max_surge, step.max_unavailable_spec,
                                               step.max_unavailable, pool_size, warnings)
    return CyclingPlan(surge, unavailable, cycle=True, eviction_grace=grace, warnings=warnings)
