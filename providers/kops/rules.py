"""kops' upgrade rules per cluster (pure; no SDK import: the offline planner loads this without boto3).

Facts (inventory spelling; the adapter discovers them with ``kops version --short``, kops_version.md):

    kopsVersion: "1.30.1"    the release of the kops binary fleet runs against this cluster

Sources (docs/fidelity/kops.md has the full table; reference files in providers/kops/emulator/reference/):
- Newest Kubernetes a kops binary applies: kubernetes/kops upup/pkg/fi/cloudup/apply_cluster.go
  ``validateKubernetesVersion`` (run by ``kops update cluster``): tooNewVersion = the kops version with
  ``Minor++`` (pre-release/build dropped), and a ``spec.kubernetesVersion`` >= it fails with "This version of
  kubernetes is not yet supported; upgrading kops is required" / "kops upgrade is required" (unless
  KOPS_RUN_TOO_NEW_VERSION is exported). So kops X.Y applies Kubernetes up to minor X.Y: the planner's
  ``max_minor`` is (X, Y). (The check keeps kops' patch number, so kops 1.30.2 would still take 1.31.0 and
  1.31.1; fleet does not rely on that quirk.)
- Strategies and knobs: kops rolls instance groups in place (no blue-green); an instance group's
  ``spec.rollingUpdate.maxSurge`` / ``maxUnavailable`` (rolling-update.md "maxSurge", "maxUnavailable") and
  the ``kops rolling-update cluster`` flags ``--drain-timeout`` and ``--node-interval`` /
  ``--control-plane-interval`` (kops_rolling-update_cluster.md).
- Node-pool skew: kops gives every instance group the cluster's ``spec.kubernetesVersion`` and holds nodes back
  until the control plane runs it (``kops update cluster --ignore-kubelet-version-skew``, kops_update_cluster.md),
  so no pool is ever newer than the control plane; how far a pool may trail is the Kubernetes skew policy
  (``pool_skew`` None).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fleet.provider import Cluster, PoolStrategy, UpgradeRules

KNOBS = frozenset({"maxSurge", "maxUnavailable", "drainTimeout", "nodeSoak"})
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$")


class Facts(BaseModel):
    """Per-cluster facts that change kops' upgrade rules, as written in an inventory."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kopsVersion: str | None = Field(None, description="Release of the kops binary that upgrades this cluster "
                                                      "(`kops version --short`, e.g. \"1.30.1\"); kops X.Y applies "
                                                      "Kubernetes up to minor X.Y")

    @field_validator("kopsVersion")
    @classmethod
    def _semver(cls, v: str | None) -> str | None:
        if v is not None and not _VERSION_RE.match(v.strip()):
            raise ValueError(f"{v!r} is not a kops release version (MAJOR.MINOR.PATCH, e.g. 1.30.1)")
        return v.strip() if v is not None else None


def kops_max_minor(kops_version: str) -> tuple[int, int]:
    """The newest Kubernetes minor kops ``kops_version`` applies (apply_cluster.go validateKubernetesVersion:
    a version >= kops major.(minor+1) is refused)."""
    m = _VERSION_RE.match(kops_version.strip())
    if not m:
        raise ValueError(f"{kops_version!r} is not a kops release version")
    return int(m.group(1)), int(m.group(2))


def compute_rules(cluster: Cluster) -> UpgradeRules:
    """kops' rules for ``cluster``, from ``cluster.facts`` (pure)."""
    facts = Facts.model_validate(dict(cluster.facts or {}))
    max_minor, reason = None, ""
    if facts.kopsVersion:
        max_minor = kops_max_minor(facts.kopsVersion)
        reason = (f"kops {facts.kopsVersion} applies Kubernetes up to {max_minor[0]}.{max_minor[1]}; a newer "
                  "minor fails `kops update cluster` with \"upgrading kops is required\" (kops "
                  "upup/pkg/fi/cloudup/apply_cluster.go validateKubernetesVersion): upgrade the kops binary first")
    # instance groups roll in place, surge or not (rolling-update.md); no blue-green in kops
    return UpgradeRules(strategies=frozenset({PoolStrategy.SURGE}), knobs=KNOBS, max_minor=max_minor,
                        max_minor_reason=reason)
