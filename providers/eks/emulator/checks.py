"""The EKS rules the emulator enforces on version updates, each with its source. Pure functions over moto's
models (duck-typed: ``version``, ``release_version``, ``ami_type``, ``launch_template``, ``nodegroups``).

Sources:

- [API-UCV] UpdateClusterVersion operation documentation (botocore ``data/eks/2017-11-01/service-2.json``):
  "all of your node groups' Kubernetes versions must match the cluster's Kubernetes version in order to update
  the cluster to a new Kubernetes version". Error as reported by users of the real API: 400
  ``InvalidParameterException`` "Nodegroups <names> must be updated to match cluster version <v> before
  updating cluster version" (message: hashicorp/terraform-provider-aws#19478, awsdocs/amazon-eks-user-guide#475;
  code: a terraform archetype's "Known issues" table quoting "InvalidParameterException: Nodegroups xxx must
  be updated to match cluster version 1.19 before updating cluster version").
- [UG-UC] EKS User Guide "Update existing cluster to new Kubernetes version": "you can update only one minor
  version at a time". (Error text for a skip: not published; ours.)
- [UG-UMNG] EKS User Guide "Update a managed node group": "The version that you update to can't be greater
  than the control plane's version". UpdateNodegroupVersion documentation: "You cannot roll back a node group
  to an earlier Kubernetes version or AMI version."
- [API-UNV] UpdateNodegroupVersion ``version``: "If you specify launchTemplate, and your launch template uses a
  custom AMI, then don't specify version, or the node group update will fail"; ``releaseVersion``: the same;
  ``launchTemplate``: "You can only update a node group using a launch template if the node group was
  originally deployed with a launch template. When updating, you must specify the same launch template ID or
  name that was used to create the node group." Errors as reported for the real API, both 400
  ``InvalidParameterException``: no launchTemplate on a CUSTOM node group: "Launch template details can't be
  null for Custom ami type node group" (aws-samples/eks-cluster-upgrade#123, kubernetes-sigs/
  cluster-api-provider-aws#4327, rancher/eks-operator#85); a version with the launch template: "You cannot
  specify the field kubernetesVersion when using custom AMIs." (eksctl-io/eksctl#5748, #5999).
- [UG-LT] EKS User Guide "Customize managed nodes with launch templates": with an AMI id, "amiType,
  releaseVersion, version" can't be set in the API. (Error text for releaseVersion: not published; ours.)
- [API-ISE] ``InvalidStateException`` (service-2.json, listed for UpdateClusterVersion, HTTP 400): "Amazon EKS
  detected upgrade readiness issues. Call the ListInsights API to view detected upgrade blocking issues. Pass
  the force flag when updating to override upgrade readiness errors." UpdateClusterVersion ``force``: "Set this
  value to true to override upgrade-blocking readiness checks when updating a cluster."
- [API-NG] ``Nodegroup.amiType``: "If the node group was deployed using a launch template with a custom AMI,
  then this is CUSTOM."
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MINOR = re.compile(r"^\d+\.\d+$")
CUSTOM = "CUSTOM"


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(message: str) -> Refused:
    return Refused(400, "InvalidParameterException", message)


def minor(v: str) -> tuple[int, int]:
    major, mnr = v.split(".")[:2]
    return int(major), int(mnr)


def release_key(release: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.split(r"[.\-]", release) if p.isdigit())


def check_cluster_version(cluster: Any, version: str, supported: bool) -> None:
    """UpdateClusterVersion: one supported minor up [UG-UC], every node group at the current minor [API-UCV]."""
    cur = cluster.version
    if not supported or not MINOR.match(version) or minor(version) != (minor(cur)[0], minor(cur)[1] + 1):
        raise bad(f"Unsupported Kubernetes minor version update from {cur} to {version}")
    lagging = sorted(n for n, ng in cluster.nodegroups.items() if minor(ng.version) != minor(cur))
    if lagging:
        raise bad(f"Nodegroups {', '.join(lagging)} must be updated to match cluster version {cur} "
                  "before updating cluster version")


@dataclass(frozen=True)
class NodegroupTarget:
    version: str
    release: str | None
    launch_template: dict[str, str] | None


def check_launch_template(ng: Any, lt: Mapping[str, Any] | None) -> dict[str, str] | None:
    """[API-UNV] launchTemplate: only for node groups created with one, with the same id or name."""
    if lt is None:
        return None
    have = dict(ng.launch_template or {})
    if not have:
        # code as the other parameter errors; the real message is not published
        raise bad("You can update a node group using a launch template only if the node group was originally "
                  "deployed with a launch template")
    if (lt.get("id") and lt["id"] != have.get("id")) or (lt.get("name") and lt["name"] != have.get("name")):
        raise bad("The launch template ID or name must match what was used when the node group was created")
    out = {k: str(v) for k, v in have.items()}
    if lt.get("version"):
        out["version"] = str(lt["version"])
    return out


def check_custom_ami(ng: Any, body: Mapping[str, Any]) -> None:
    """[API-UNV], [UG-LT]: a CUSTOM node group [API-NG] moves only to a new launch template version."""
    if ng.ami_type != CUSTOM:
        return
    if not body.get("launchTemplate"):
        raise bad("Launch template details can't be null for Custom ami type node group")
    if body.get("version"):
        raise bad("You cannot specify the field kubernetesVersion when using custom AMIs.")
    if body.get("releaseVersion"):
        raise bad("You cannot specify the field releaseVersion when using custom AMIs.")


def check_nodegroup_version(cluster: Any, ng: Any, name: str, body: Mapping[str, Any],
                            ami_releases: Mapping[str, list[str]]) -> NodegroupTarget:
    """UpdateNodegroupVersion: what the node group moves to, or Refused."""
    check_custom_ami(ng, body)
    lt = check_launch_template(ng, body.get("launchTemplate"))
    if ng.ami_type == CUSTOM:
        return NodegroupTarget(ng.version, None, lt)        # the operator's AMI: version/release unchanged
    version = body.get("version") or ng.version
    release = body.get("releaseVersion")
    if not MINOR.match(str(version)):
        raise bad(f"Invalid Kubernetes version {version}")
    if minor(version) > minor(cluster.version):          # [UG-UMNG]
        raise bad(f"Requested Nodegroup Kubernetes version {version} is newer than the cluster version "
                  f"{cluster.version}")
    if minor(version) < minor(ng.version):               # [UG-UMNG] no roll back
        raise bad(f"Cannot downgrade nodegroup from {ng.version} to {version}")
    known = ami_releases.get(version, [])
    if release is not None and release not in known:
        # message as reported for the real API (eksctl-io/eksctl#7976)
        raise bad(f"Requested release version {release} is not valid for kubernetes version {version}.")
    if release is None and known:
        release = known[-1]
    if (release and ng.release_version and minor(version) == minor(ng.version)
            and release_key(release) < release_key(ng.release_version)):
        raise bad(f"Cannot roll back nodegroup {name} from release {ng.release_version} to {release}")
    if (version, release) == (ng.version, ng.release_version) and not body.get("force") and lt is None:
        raise bad(f"Nodegroup {name} is already at version {version} release {release}")
    return NodegroupTarget(version, release, lt)


def check_upgrade_insights(cluster: str, version: str, insights: list[Any], force: bool) -> None:
    """[API-ISE]: UpdateClusterVersion to ``version`` is refused while an UPGRADE_READINESS insight of that minor
    has status ERROR, unless ``force`` is true. Which insights EKS counts as "upgrade blocking" is not
    published: the emulator counts every ERROR upgrade insight of the target minor (docs/fidelity/eks.md)."""
    if force:
        return
    blocking = sorted(i.name for i in insights if i.category == "UPGRADE_READINESS"
                      and i.kubernetes_version == version and i.status == "ERROR")
    if blocking:
        raise Refused(400, "InvalidStateException",
                      f"Amazon EKS detected upgrade readiness issues for cluster {cluster} ({', '.join(blocking)}). "
                      "Call the ListInsights API to view detected upgrade blocking issues. Pass the force flag "
                      "when updating to override upgrade readiness errors.")
