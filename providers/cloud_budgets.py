"""Cloud budget knobs shared by a native adapter and CAPI's managed machine pools (pure; no SDK).

The EKS API's ``NodegroupUpdateConfig`` and CAPA's ``AWSManagedMachinePool.spec.updateConfig`` are the same
fields; OKE's ``nodePoolCyclingDetails`` / ``evictionGraceDuration`` and CAPOCI's ``OCIManagedMachinePool`` are
the same fields. Providers may not import each other (.importlinter: providers are independent), so the
translation both need lives here, like providers/checks_base.py: providers/eks/budget.py and
providers/oke/budget.py document the rules, providers/capi/pools.py applies them to the CRDs.
"""

from __future__ import annotations

import math
import re

PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def percent(spec: str | None) -> float | None:
    """``"12.5%"`` -> 12.5; anything that is not a percentage -> None."""
    m = PERCENT.match(spec) if isinstance(spec, str) else None
    return float(m.group(1)) if m else None


# --- EKS: maxUnavailable (1..100 nodes) or maxUnavailablePercentage (1..100) -------------------------------

EKS_MAX_UNAVAILABLE = 100


def eks_unavailable(spec: str | None, resolved: int | None) -> tuple[dict[str, int], list[str]]:
    """``{"maxUnavailable": n}`` or ``{"maxUnavailablePercentage": whole}`` ({} when nothing is given) and the
    warnings: a count at least 1 and at most EKS_MAX_UNAVAILABLE, a percentage whole (rounded up), 1..100."""
    pct = percent(spec)
    if pct is not None:
        if pct < 1:
            return {"maxUnavailable": 1}, [f"EKS node groups take maxUnavailable of at least 1 node; maxUnavailable "
                                           f"{spec} becomes maxUnavailable=1"]
        whole = min(EKS_MAX_UNAVAILABLE, math.ceil(pct))
        warn = [] if whole == pct else [f"EKS takes maxUnavailablePercentage as a whole number from 1 to 100; "
                                        f"{spec} becomes {whole}%"]
        return {"maxUnavailablePercentage": whole}, warn
    if resolved is None:
        return {}, []
    n = resolved
    if n < 1:
        return {"maxUnavailable": 1}, [f"EKS node groups cannot update with maxUnavailable={n}: at least one node "
                                       "is replaced at a time; using maxUnavailable=1"]
    if n > EKS_MAX_UNAVAILABLE:
        return {"maxUnavailable": EKS_MAX_UNAVAILABLE}, [f"EKS caps maxUnavailable at {EKS_MAX_UNAVAILABLE}; "
                                                         f"maxUnavailable={n} becomes {EKS_MAX_UNAVAILABLE}"]
    return {"maxUnavailable": n}, []


# --- OKE: maximumSurge / maximumUnavailable (strings), evictionGraceDuration (PT0M..PT60M) -------------------

OKE_MAX_GRACE_SECONDS = 3600
OKE_DEFAULT_SURGE = "1"
OKE_DEFAULT_UNAVAILABLE = "0"


def oke_knob(name: str, spec: str | None, resolved: int | None, default: str, size: int | None,
             warnings: list[str]) -> str:
    """A percentage passed as a whole percentage (surge rounded up, unavailable down, at most 100%); an integer
    as an integer, capped at the pool ``size`` when known; nothing given: OKE's ``default``."""
    pct = percent(spec)
    if pct is not None:
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


def oke_surge_unavailable(max_surge_spec: str | None, max_surge: int | None, max_unavailable_spec: str | None,
                          max_unavailable: int | None, size: int | None, warnings: list[str]) -> tuple[str, str]:
    """(maximumSurge, maximumUnavailable); both 0 is refused by OKE, so surge becomes 1."""
    surge = oke_knob("maxSurge", max_surge_spec, max_surge, OKE_DEFAULT_SURGE, size, warnings)
    unavailable = oke_knob("maxUnavailable", max_unavailable_spec, max_unavailable, OKE_DEFAULT_UNAVAILABLE, size,
                           warnings)
    if _is_zero(surge) and _is_zero(unavailable):
        warnings.append("OKE refuses maxSurge 0 with maxUnavailable 0; using maxSurge 1")
        surge = "1"
    return surge, unavailable


def _is_zero(value: str) -> bool:
    return value.rstrip("%") in ("0", "0.0")


def oke_grace_duration(seconds: int, warnings: list[str]) -> str:
    """Drain timeout in seconds -> OKE's evictionGraceDuration (whole minutes, PT0M-PT60M)."""
    if seconds > OKE_MAX_GRACE_SECONDS:
        warnings.append(f"OKE allows at most 60 minutes to evict pods (evictionGraceDuration); the drain timeout of "
                        f"{seconds}s becomes PT60M")
        return "PT60M"
    minutes = math.ceil(max(0, seconds) / 60)
    if minutes * 60 != seconds:
        warnings.append(f"OKE takes the eviction grace period in whole minutes; {seconds}s becomes PT{minutes}M")
    return f"PT{minutes}M"
