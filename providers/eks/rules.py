"""EKS upgrade rules (pure; no SDK: the offline planner loads this without boto3).

Facts (inventory spelling, also filled by ``EksProvider.discover()``):

- ``customAmiNodegroups``: managed node groups whose launch template names its own AMI (EKS reports
  ``amiType: CUSTOM``). EKS refuses ``version``/``releaseVersion`` for them; fleet plans them as blocked.

Sources (each rule below cites its own):

- [API-UCV] UpdateClusterVersion, EKS API Reference (botocore ``data/eks/2017-11-01/service-2.json``,
  operation documentation): "If your cluster has managed node groups attached to it, all of your node groups'
  Kubernetes versions must match the cluster's Kubernetes version in order to update the cluster to a new
  Kubernetes version."
- [UG-UC] EKS User Guide, "Update existing cluster to new Kubernetes version" (awsdocs/amazon-eks-user-guide
  ``latest/ug/clusters/update-cluster.adoc``): "you can update only one minor version at a time"; "make sure
  that the Kubernetes minor version of both the managed nodes and Fargate nodes in your cluster are the same as
  your control plane's version"; "Starting from Kubernetes version 1.28, kubelet may be up to three minor
  versions older than kube-apiserver"; kubelet 1.24 or older: two.
- [UG-UMNG] EKS User Guide, "Update a managed node group" (``latest/ug/nodes/update-managed-node-group.adoc``):
  "The version that you update to can't be greater than the control plane's version"; "if your cluster is
  running a Kubernetes version that's newer than your node group, you can update the node group to use the
  latest AMI release version to match your cluster's Kubernetes version".
- [API-UNV] UpdateNodegroupVersion, ``version`` member (service-2.json): "If you specify launchTemplate, and
  your launch template uses a custom AMI, then don't specify version, or the node group update will fail."
  Operation documentation: "If you need to update a custom AMI in a node group that was deployed with a launch
  template, then update your custom AMI, specify the new ID in a new version of the launch template, and then
  update the node group to the new version of the launch template."
- [UG-LT] EKS User Guide, "Customize managed nodes with launch templates" (``latest/ug/nodes/
  launch-templates.adoc``, "Limits and conditions when specifying an AMI ID"): "The following fields can't be
  set in the API if you specify an AMI ID: amiType, releaseVersion, version".
- [API-NUC] ``NodegroupUpdateConfig`` (service-2.json): ``maxUnavailable`` (1..100) or
  ``maxUnavailablePercentage`` (1..100), ``updateStrategy`` DEFAULT ("launches the new instances first") |
  MINIMAL ("terminates the old instances before launching the new instances"). No surge count, no blue-green.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fleet.provider import Cluster, PoolStrategy, UpgradeRules

CUSTOM_AMI_REASON = (
    "node group {name} runs a custom AMI from its launch template (amiType CUSTOM): EKS refuses a Kubernetes "
    "version for it (UpdateNodegroupVersion API reference). Build an AMI for the target Kubernetes minor, put its id in "
    "a new version of the node group's launch template, then update the node group to that launch template "
    "version (UpdateNodegroupVersion with launchTemplate only, e.g. `eksctl upgrade nodegroup "
    "--launch-template-version N`)"
)


class Facts(BaseModel):
    """Per-cluster facts that change the EKS upgrade rules."""

    model_config = ConfigDict(extra="forbid")

    custom_ami_nodegroups: list[str] = Field(
        default_factory=list, alias="customAmiNodegroups",
        description="Managed node groups whose launch template specifies their own AMI (EKS amiType CUSTOM). "
                    "EKS refuses a Kubernetes version for them: fleet plans their steps as blocked, to be done by "
                    "the operator through a new launch template version.")


def compute_facts(cluster: Cluster) -> Facts:
    return Facts.model_validate(dict(cluster.facts))


def compute_rules(cluster: Cluster) -> UpgradeRules:
    """The EKS rules of one cluster (read from ``cluster.facts`` and its target-agnostic state)."""
    facts = compute_facts(cluster)
    blocked = {name: CUSTOM_AMI_REASON.format(name=name)
               for name in facts.custom_ami_nodegroups}
    return UpgradeRules(
        # [UG-UC]: the kubelet skew EKS documents is the upstream policy (3 minors from 1.28, else 2), which is
        # what None means; the match rule below keeps managed node groups within one minor in practice
        pool_skew=None,
        # [UG-UMNG]: a node group may go straight to the control plane's version; no per-step minor limit is
        # documented (the only bound is "can't be greater than the control plane's version")
        pool_minor_step=None,
        # [API-UCV], [UG-UC]: every managed node group at the control plane's minor before the next minor
        pools_match_before_cp_minor=True,
        # [UG-UC] "After your cluster update is complete, update your nodes": node groups do not follow by themselves
        pools_follow_control_plane=False,
        # [API-UNV], [UG-LT]: custom-AMI node groups cannot be sent a version; the operator's AMI is needed
        blocked_pools=blocked,
        # [API-NUC]: rolling replacement only (DEFAULT launches new nodes first, MINIMAL removes old ones first)
        strategies=frozenset({PoolStrategy.SURGE}),
        # [API-NUC]: maxUnavailable (a count or, as maxUnavailablePercentage, a percentage); no maxSurge count
        knobs=frozenset({"maxUnavailable"}),
    )
