"""EKS safety-gate checks: pure evaluations of what the EKS API answered (docs/gates-providers.md).

- ``upgrade-blockers``: ListInsights(filter: categories=[UPGRADE_READINESS], kubernetesVersions=[target minor],
  statuses=[ERROR]) then DescribeInsight for each (evidence). EKS's InvalidStateException documentation
  (botocore service-2.json): "Amazon EKS detected upgrade readiness issues. Call the ListInsights API to view
  detected upgrade blocking issues. Pass the force flag when updating to override upgrade readiness errors."
- ``cluster-health``: DescribeCluster ``status`` ACTIVE with no ``health.issues``; every node group
  (ListNodegroups + DescribeNodegroup) ACTIVE with no ``health.issues``.
- ``nodes-ready``: EKS's API has no per-node Ready condition (that is in the Kubernetes API, which fleet does
  not call): the step's node group is ACTIVE at the target version / AMI release with no health issues; for
  a control-plane step, the cluster ACTIVE at the target minor with no health issues.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.provider import CheckOutcome, CheckResult
from providers.checks_base import outcome

UPGRADE_READINESS = "UPGRADE_READINESS"
MAX_DESCRIBED = 10        # insights described for evidence (each is one DescribeInsight call)


def _issues(obj: Mapping[str, Any]) -> list[str]:
    return [f"{i.get('code')}: {i.get('message')}" for i in (obj.get("health") or {}).get("issues") or []]


def blockers(minor: str, described: list[Mapping[str, Any]], total: int) -> CheckOutcome:
    """``described``: DescribeInsight answers for the ERROR upgrade insights of ``minor`` (``total`` found)."""
    evidence: dict[str, Any] = {"kubernetesVersion": minor, "errorInsights": total, "insights": [
        {"id": i.get("id"), "name": i.get("name"), "reason": (i.get("insightStatus") or {}).get("reason"),
         "recommendation": i.get("recommendation"),
         "resources": [r.get("kubernetesResourceUri") or r.get("arn") for r in i.get("resources") or []][:20]}
        for i in described]}
    if total:
        names = ", ".join(str(i.get("name")) for i in described)
        return CheckOutcome(CheckResult.FAIL, f"{total} EKS upgrade insight(s) with status ERROR for Kubernetes "
                            f"{minor}: {names} (override: UpdateClusterVersion force=true)", evidence)
    return CheckOutcome(CheckResult.PASS, f"no EKS upgrade insight with status ERROR for Kubernetes {minor}",
                        evidence)


def not_for_nodegroups(minor: str) -> CheckOutcome:
    """Upgrade insights gate UpdateClusterVersion (its InvalidStateException); UpdateNodegroupVersion lists no
    such error in the model (its ``force`` is about Pod disruption budgets), so a node-group step has no
    upgrade-readiness block to check."""
    return CheckOutcome(CheckResult.PASS, "EKS upgrade insights block control-plane updates only "
                        "(UpdateClusterVersion); a node-group update has no readiness block",
                        {"kubernetesVersion": minor, "appliesTo": "UpdateClusterVersion"})


def cluster_health(cluster: Mapping[str, Any], nodegroups: list[Mapping[str, Any]]) -> CheckOutcome:
    failures: list[str] = []
    if cluster.get("status") != "ACTIVE":
        failures.append(f"cluster status {cluster.get('status')}")
    failures += [f"cluster health issue {i}" for i in _issues(cluster)]
    for ng in nodegroups:
        name = ng.get("nodegroupName")
        if ng.get("status") != "ACTIVE":
            failures.append(f"node group {name} status {ng.get('status')}")
        failures += [f"node group {name} health issue {i}" for i in _issues(ng)]
    evidence = {"cluster": {"status": cluster.get("status"), "issues": _issues(cluster)},
                "nodegroups": {str(ng.get("nodegroupName")): {"status": ng.get("status"), "issues": _issues(ng)}
                               for ng in nodegroups}}
    return outcome(failures, f"cluster and {len(nodegroups)} node group(s) ACTIVE without health issues", evidence)


def nodegroup_ready(ng: Mapping[str, Any], version: str, release: str | None) -> CheckOutcome:
    name = ng.get("nodegroupName")
    failures: list[str] = []
    if ng.get("status") != "ACTIVE":
        failures.append(f"node group {name} status {ng.get('status')}")
    if str(ng.get("version")) != version:
        failures.append(f"node group {name} at Kubernetes {ng.get('version')}, not {version}")
    if release and ng.get("releaseVersion") != release:
        failures.append(f"node group {name} at AMI release {ng.get('releaseVersion')}, not {release}")
    failures += [f"node group {name} health issue {i}" for i in _issues(ng)]
    evidence = {"nodegroup": name, "status": ng.get("status"), "version": ng.get("version"),
                "releaseVersion": ng.get("releaseVersion"), "issues": _issues(ng),
                "note": "EKS's API reports node groups, not per-node Ready"}
    return outcome(failures, f"node group {name} ACTIVE at {release or version} without health issues", evidence)


def control_plane_ready(cluster: Mapping[str, Any], version: str) -> CheckOutcome:
    failures: list[str] = []
    if cluster.get("status") != "ACTIVE":
        failures.append(f"cluster status {cluster.get('status')}")
    if str(cluster.get("version")) != version:
        failures.append(f"control plane at {cluster.get('version')}, not {version}")
    failures += [f"cluster health issue {i}" for i in _issues(cluster)]
    evidence = {"status": cluster.get("status"), "version": cluster.get("version"), "issues": _issues(cluster)}
    return outcome(failures, f"control plane ACTIVE at {version} without health issues", evidence)
