"""GKE safety-gate checks: pure evaluations of what the container API answered (docs/gates-providers.md).

- ``cluster-health``: GetCluster ``status`` RUNNING with no ``conditions``; every node pool (in the same answer)
  RUNNING with no ``conditions`` (container.v1 ``Cluster.Status``, ``NodePool.Status``, ``StatusCondition``:
  "why a cluster or a node pool has a certain status (e.g., ERROR or DEGRADED)").
- ``nodes-ready``: the container API reports node pools, not nodes: the step's node pool RUNNING at the target
  version with no conditions; a control-plane step: ``currentMasterVersion`` at the target, cluster RUNNING.
- ``upgrade-blockers``: not supported. The container API has no upgrade-readiness read (FetchClusterUpgradeInfo
  reports auto-upgrade status and past upgrades, not blockers; GKE's deprecation insights live in the
  Recommender API, another SDK).
- Rollback: ``RollbackNodePoolUpgrade`` (``POST v1/{name}:rollback``): "Rolls back a previously Aborted or Failed
  NodePool upgrade. This makes no changes if the last upgrade successfully completed." (GKE API reference;
  the SDK's RollbackNodePoolUpgradeRequest says the same.)
"""

from __future__ import annotations

from typing import Any

from fleet.provider import CheckOutcome
from providers.checks_base import outcome


def _name(value: Any) -> str:
    return getattr(value, "name", str(value))


def _conditions(obj: Any) -> list[str]:
    return [f"{_name(c.canonical_code) if c.canonical_code else _name(c.code)}: {c.message}"
            for c in obj.conditions]


def cluster_health(gc: Any) -> CheckOutcome:
    failures: list[str] = []
    if _name(gc.status) != "RUNNING":
        failures.append(f"cluster status {_name(gc.status)}" + (f" ({gc.status_message})" if gc.status_message else ""))
    failures += [f"cluster condition {c}" for c in _conditions(gc)]
    pools: dict[str, Any] = {}
    for p in gc.node_pools:
        status = _name(p.status)
        if status != "RUNNING":
            failures.append(f"node pool {p.name} status {status}" + (f" ({p.status_message})" if p.status_message
                                                                    else ""))
        failures += [f"node pool {p.name} condition {c}" for c in _conditions(p)]
        pools[p.name] = {"status": status, "version": p.version, "conditions": _conditions(p)}
    evidence = {"cluster": {"status": _name(gc.status), "conditions": _conditions(gc)}, "nodePools": pools}
    return outcome(failures, f"cluster and {len(pools)} node pool(s) RUNNING without conditions", evidence)


def pool_ready(pool: Any, target: str, same: bool) -> CheckOutcome:
    failures: list[str] = []
    if _name(pool.status) != "RUNNING":
        failures.append(f"node pool {pool.name} status {_name(pool.status)}")
    if not same:
        failures.append(f"node pool {pool.name} at {pool.version}, not {target}")
    failures += [f"node pool {pool.name} condition {c}" for c in _conditions(pool)]
    evidence = {"nodePool": pool.name, "status": _name(pool.status), "version": pool.version,
                "conditions": _conditions(pool), "note": "the container API reports node pools, not per-node Ready"}
    return outcome(failures, f"node pool {pool.name} RUNNING at {target}", evidence)


def master_ready(gc: Any, target: str, same: bool) -> CheckOutcome:
    failures: list[str] = []
    if _name(gc.status) != "RUNNING":
        failures.append(f"cluster status {_name(gc.status)}")
    if not same:
        failures.append(f"control plane at {gc.current_master_version}, not {target}")
    failures += [f"cluster condition {c}" for c in _conditions(gc)]
    evidence = {"status": _name(gc.status), "currentMasterVersion": gc.current_master_version,
                "conditions": _conditions(gc)}
    return outcome(failures, f"control plane RUNNING at {target}", evidence)
