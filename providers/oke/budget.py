"""Translate a fleet Step's budget into OKE's node pool knobs (pure; no SDK).

OKE cycles a node pool in place (``nodePoolCyclingDetails``): ``maximumSurge`` (default 1) and
``maximumUnavailable`` (default 0), each an integer from 0 to the pool size or a percentage 0%-100%, sent as
strings; they cannot both be 0. Pod eviction waits ``nodeEvictionNodePoolSettings.evictionGraceDuration``
(ISO 8601, PT0M-PT60M). OKE has no blue-green node pool upgrade and no per-node soak: those are warned.

Percentages in the policy (``max_surge_spec="25%"``) are passed to OKE as percentages, so OKE applies them to
the pool size it sees; integers are passed as integers, capped at the pool size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from fleet.provider import Step

MAX_GRACE_SECONDS = 3600
DEFAULT_SURGE = "1"
DEFAULT_UNAVAILABLE = "0"
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class CyclingPlan:
    """What start() sends for a node pool step, and the warnings check_step() reports."""

    maximum_surge: str | None = DEFAULT_SURGE
    maximum_unavailable: str | None = DEFAULT_UNAVAILABLE
    cycle: bool = True
    eviction_grace: str | None = None
    warnings: list[str] = field(default_factory=list)


def _knob(name: str, spec: str | None, resolved: int | None, default: str, size: int | None,
          warnings: list[str]) -> str:
    m = _PERCENT.match(spec) if isinstance(spec, str) else None
    if m:
        pct = float(m.group(1))
        whole = min(100, math.ceil(pct) if name == "maxSurge" else math.floor(pct))
        if pct > 100:
            warnings.append(f"OKE caps {name} at 100%; {spec} becomes 100%")
        elif whole != pct:
            warnings.append(f"OKE takes whole percentages; {name} {spec} becomes {whole}%")
        return f"{whole}%"
    if resolved is None:
        return default
    n = max(0, int(resolved))
    if size is not None and size > 0 and n > size:
        warnings.append(f"OKE caps {name} at the node pool size ({size}); {n} becomes {size}")
        n = size
    return str(n)


def _is_zero(value: str) -> bool:
    return value.rstrip("%") in ("0", "0.0")


def grace_duration(seconds: int, warnings: list[str]) -> str:
    """Drain timeout in seconds -> OKE's evictionGraceDuration (whole minutes, PT0M-PT60M)."""
    if seconds > MAX_GRACE_SECONDS:
        warnings.append(f"OKE allows at most 60 minutes to evict pods (evictionGraceDuration); the drain timeout of "
                        f"{seconds}s becomes PT60M")
        return "PT60M"
    minutes = math.ceil(max(0, seconds) / 60)
    if minutes * 60 != seconds:
        warnings.append(f"OKE takes the eviction grace period in whole minutes; {seconds}s becomes PT{minutes}M")
    return f"PT{minutes}M"


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
    surge = _knob("maxSurge", step.max_surge_spec, step.max_surge, DEFAULT_SURGE, pool_size, warnings)
    unavailable = _knob("maxUnavailable", step.max_unavailable_spec, step.max_unavailable, DEFAULT_UNAVAILABLE,
                        pool_size, warnings)
    if _is_zero(surge) and _is_zero(unavailable):
        warnings.append("OKE refuses maxSurge 0 with maxUnavailable 0; using maxSurge 1")
        surge = "1"
    return CyclingPlan(surge, unavailable, cycle=True, eviction_grace=grace, warnings=warnings)
