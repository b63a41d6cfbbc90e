"""How the simulated cloud takes a node-pool step's budget: nodes are replaced in batches of
``maxSurge + maxUnavailable`` (at least one), so a pool takes ceil(nodes / batch) batch durations."""

from __future__ import annotations

from fleet.provider import Step


def compute_batches(step: Step, nodes: int) -> int:
    """Batches a node-pool step of a ``nodes``-node pool takes (at least one)."""
    batch = max(1, (step.max_surge or 0) + (step.max_unavailable or 0))
    return -(-max(1, nodes) // batch)


def compute_warnings(step: Step) -> list[str]:
    """check_step: the simulated cloud honours every budget as given."""
    return []
