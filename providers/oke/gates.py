"""OKE safety-gate checks: pure evaluations of what the Container Engine API answered (docs/gates-providers.md).

- ``cluster-health``: GetCluster ``lifecycleState`` ACTIVE; every node pool (ListNodePools, then GetNodePool
  for its ``nodes``) ACTIVE, and each of its nodes ACTIVE without a ``nodeError`` (oci SDK 2.189.0
  ``oci.container_engine.models``: ``Cluster``, ``NodePool``, ``Node.lifecycle_state`` / ``Node.node_error``).
- ``nodes-ready``: the step's node pool ACTIVE at the target, and every one of its nodes ACTIVE at the target
  ``kubernetesVersion`` without a ``nodeError`` (OKE reports its own node state, not the Kubernetes Ready
  condition); a control-plane step: the cluster ACTIVE at the target.
- No upgrade blockers (OKE's API has no upgrade-readiness read), no etcd backup (managed control plane), no
  rollback (no operation for it in the API).
"""

from __future__ import annotations

from typing import Any, Protocol

from fleet.provider import CheckOutcome
from providers.checks_base import outcome


class Same(Protocol):
    def __call__(self, a: str | None, b: str) -> bool: ...


def _node_problems(pool: Any) -> list[str]:
    out = []
    for n in pool.nodes or []:
        if n.lifecycle_state != "ACTIVE":
            out.append(f"node {n.name} of node pool {pool.name} is {n.lifecycle_state}")
        if n.node_error is not None:
            out.append(f"node {n.name} of node pool {pool.name} error {n.node_error.code}: {n.node_error.message}")
    return out


def cluster_health(c: Any, pools: list[Any]) -> CheckOutcome:
    failures: list[str] = []
    if c.lifecycle_state != "ACTIVE":
        failures.append(f"cluster {c.lifecycle_state}" + (f" ({c.lifecycle_details})" if c.lifecycle_details else ""))
    seen: dict[str, Any] = {}
    for p in pools:
        if p.lifecycle_state != "ACTIVE":
            failures.append(f"node pool {p.name} {p.lifecycle_state}")
        problems = _node_problems(p)
        failures += problems
        seen[str(p.name)] = {"lifecycleState": p.lifecycle_state, "nodes": len(p.nodes or []), "problems": problems}
    evidence = {"cluster": {"lifecycleState": c.lifecycle_state}, "nodePools": seen}
    return outcome(failures, f"cluster and {len(seen)} node pool(s) ACTIVE, every node ACTIVE without errors",
                   evidence)


def pool_ready(p: Any, target: str, same: Same) -> CheckOutcome:
    failures: list[str] = []
    if p.lifecycle_state != "ACTIVE":
        failures.append(f"node pool {p.name} {p.lifecycle_state}")
    if not same(p.kubernetes_version, target):
        failures.append(f"node pool {p.name} at {p.kubernetes_version}, not {target}")
    stale = [n.name for n in p.nodes or [] if not same(n.kubernetes_version, target)]
    if stale:
        failures.append(f"{len(stale)} node(s) of node pool {p.name} not at {target}: {', '.join(stale[:5])}")
    if not p.nodes:
        failures.append(f"node pool {p.name} reports no nodes")
    failures += _node_problems(p)
    evidence = {"nodePool": p.name, "lifecycleState": p.lifecycle_state, "kubernetesVersion": p.kubernetes_version,
                "nodes": {n.name: {"lifecycleState": n.lifecycle_state, "kubernetesVersion": n.kubernetes_version,
                                   "error": None if n.node_error is None else n.node_error.code}
                          for n in (p.nodes or [])[:50]}}
    return outcome(failures, f"every node of node pool {p.name} ACTIVE at {target}", evidence)


def control_plane_ready(c: Any, target: str, same: Same) -> CheckOutcome:
    failures: list[str] = []
    if c.lifecycle_state != "ACTIVE":
        failures.append(f"cluster {c.lifecycle_state}")
    if not same(c.kubernetes_version, target):
        failures.append(f"control plane at {c.kubernetes_version}, not {target}")
    evidence = {"lifecycleState": c.lifecycle_state, "kubernetesVersion": c.kubernetes_version}
    return outcome(failures, f"control plane ACTIVE at {target}", evidence)
