"""kops safety-gate checks: pure evaluations of ``kops validate cluster -o json`` and of the state store
(docs/gates-providers.md).

- ``cluster-health``: ``kops validate cluster --name C -o json`` (kops_validate_cluster.md: control plane and
  worker nodes Ready, control-plane pods, critical pods); its JSON is kops' ``ValidationCluster``
  (kubernetes/kops pkg/validation/validate_cluster.go: ``failures`` [{type, name, message, instanceGroup}],
  ``nodes`` [{name, zone, role, hostname, status}]). Passes when there are no failures.
- ``nodes-ready``: the step's instance groups carry the target version in the state store (nodeup config),
  the dry run ``kops rolling-update cluster`` finds no instance needing an update, and validation reports no
  failure attributed to those instance groups (``failures[].instanceGroup.metadata.name``).
- ``etcd-backup``: the newest etcd-manager backup of each etcd cluster (``main``, ``events``) under
  ``<state store>/<cluster>/backups/etcd/<etcd>/`` is younger than ``params.maxAgeSeconds``. Backups are the
  directories named ``<RFC 3339 time>-<suffix>`` that hold an ``_etcd_backup.meta`` (etcd-manager's backup
  structure; kops docs/operations/etcd_backup_restore_encryption.md: "Backups are done periodically and before
  cluster modifications", by default every 15 minutes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fleet.provider import CheckOutcome, CheckResult
from providers.checks_base import max_age_seconds, outcome

ETCD_CLUSTERS = ("main", "events")
BACKUP_DIR = re.compile(r"/(?P<when>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)-[^/]+/_etcd_backup\.meta$")
MAX_LISTED = 10


def _ig(failure: Mapping[str, Any]) -> str | None:
    ig = failure.get("instanceGroup") or {}
    return (ig.get("metadata") or {}).get("name") if isinstance(ig, dict) else None


def _text(failure: Mapping[str, Any]) -> str:
    return f"{failure.get('type')} {failure.get('name')}: {failure.get('message')}"


def validation(result: Mapping[str, Any]) -> CheckOutcome:
    failures = list(result.get("failures") or [])
    nodes = list(result.get("nodes") or [])
    evidence = {"failures": [{"type": f.get("type"), "name": f.get("name"), "message": f.get("message"),
                              "instanceGroup": _ig(f)} for f in failures[:50]],
                "nodes": len(nodes), "notReady": [n.get("name") for n in nodes if n.get("status") != "True"][:50]}
    return outcome([f"kops validate: {_text(f)}" for f in failures[:MAX_LISTED]],
                   f"kops validate cluster: no failures, {len(nodes)} node(s) Ready", evidence)


def groups_ready(result: Mapping[str, Any], groups: list[str], versions: Mapping[str, str | None], target: str,
                 need_update: int, same: Any) -> CheckOutcome:
    failures = [f"instance group {g} is at {versions.get(g)}, not {target}" for g in groups
                if not same(versions.get(g), target)]
    if need_update:
        failures.append(f"{need_update} instance(s) of {', '.join(groups)} still need an update (kops rolling-update "
                        "cluster dry run)")
    mine = [f for f in result.get("failures") or [] if _ig(f) in groups]
    failures += [f"kops validate: {_text(f)}" for f in mine[:MAX_LISTED]]
    evidence = {"instanceGroups": {g: versions.get(g) for g in groups}, "needUpdate": need_update,
                "validationFailures": [_text(f) for f in mine[:50]]}
    return outcome(failures, f"instance group(s) {', '.join(groups)} at {target}, every node validated", evidence)


def backup_times(keys: Iterable[str]) -> list[datetime]:
    out = []
    for k in keys:
        m = BACKUP_DIR.search(k)
        if m:
            out.append(datetime.strptime(m["when"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
    return sorted(out)


def etcd_backups(newest: Mapping[str, datetime | None], params: Mapping[str, Any], now: datetime,
                 where: str) -> CheckOutcome:
    max_age = max_age_seconds(params)
    evidence: dict[str, Any] = {"backupStore": where, "maxAgeSeconds": max_age,
                                "newest": {k: v.strftime("%Y-%m-%dT%H:%M:%SZ") if v else None
                                           for k, v in newest.items()}}
    if max_age is None:
        return CheckOutcome(CheckResult.ERROR, "etcd-backup needs params.maxAgeSeconds (a positive integer)", evidence)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    failures = []
    for etcd, when in newest.items():
        if when is None:
            failures.append(f"no etcd-manager backup of etcd {etcd} under {where}/{etcd}/")
            continue
        age = int((now - when).total_seconds())
        evidence.setdefault("ageSeconds", {})[etcd] = age
        if age > max_age:
            failures.append(f"newest backup of etcd {etcd} is {age}s old, older than {max_age}s")
    return outcome(failures, f"newest etcd backups ({', '.join(newest)}) younger than {max_age}s", evidence)
