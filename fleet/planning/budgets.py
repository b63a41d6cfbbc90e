"""Every budget goes through here: maxSurge / maxUnavailable against a pool's node count.

Rounding follows Kubernetes (Deployment rolling updates): a percentage of surge rounds UP, a percentage of
unavailable rounds DOWN, and if both come to 0, unavailable becomes 1 so the rollout can make progress.
Both literally 0 is rejected when the policy is validated (see NodePoolsSpec).
"""

from __future__ import annotations

import math


def _resolve(value: int | str, nodes: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    pct = int(value.rstrip("%"))
    exact = pct * nodes / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(max_surge: int | str, max_unavailable: int | str, nodes: int) -> tuple[int, int]:
    """(surge, unavailable) for a pool of ``nodes`` nodes."""
    surge = _resolve(max_surge, nodes, round_up=True)
    unavailable = _resolve(max_unavailable, nodes, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable
