"""Cluster API safety-gate checks: pure evaluations of the objects on the management cluster
(docs/gates-providers.md).

Conditions are read wherever the served API version keeps them: ``status.conditions`` (v1beta1: CAPI's own
Condition with ``severity``; v1beta2: metav1.Condition), ``status.v1beta2.conditions`` (v1beta1 objects) and
``status.deprecated.v1beta1.conditions`` (v1beta2 objects) -- the CRDs in /work/shared/reference/capi-crds.

- ``cluster-health``: the KubeadmControlPlane's health conditions that are reported must be True:
  ``EtcdClusterHealthy``, ``ControlPlaneComponentsHealthy`` (v1beta1 KCP conditions, kubernetes-sigs/cluster-api
  controlplane/kubeadm/api/v1beta1 condition_consts.go), ``Available``, ``EtcdClusterAvailable``,
  ``MachinesReady`` (v1beta2: the KCP CRD lists them as known condition types); at least one of them must be
  reported. Every MachineDeployment has ``availableReplicas`` >= ``spec.replicas`` and no reported
  ``Available``/``Ready`` condition False. Every Machine of the cluster is not ``Failed`` and its reported
  ``Ready`` / ``NodeHealthy`` / ``NodeReady`` conditions are True (the Machine CRD lists them).
- ``nodes-ready``: the Machines of the step's component (KCP: ``cluster.x-k8s.io/control-plane-name``; a
  MachineDeployment: ``cluster.x-k8s.io/deployment-name``; a managed topology's control-plane step: every
  Machine of the cluster) all at ``spec.version`` == target, not deleting, ``Ready`` True and, where reported,
  ``NodeHealthy`` / ``NodeReady`` True; at least the component's ``spec.replicas`` of them.
- ``etcd-backup`` (configurable): the newest etcd backup time is an RFC 3339 timestamp that the operator's backup
  tooling writes into an annotation (``params.annotation``, required) of the workload cluster's ``Cluster``
  object (or its KubeadmControlPlane with ``params.object: KubeadmControlPlane``) on the management cluster;
  it passes when younger than ``params.maxAgeSeconds``. Cluster API itself records no etcd backups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fleet.provider import CheckOutcome, CheckResult
from providers.capi.objects import get, same_version
from providers.checks_base import max_age_seconds, outcome, parse_instant

KCP_HEALTH = ("EtcdClusterHealthy", "ControlPlaneComponentsHealthy", "Available", "EtcdClusterAvailable",
              "MachinesReady")
MD_HEALTH = ("Available", "Ready")
MACHINE_HEALTH = ("Ready", "NodeHealthy", "NodeReady")
ETCD_OBJECTS = ("Cluster", "KubeadmControlPlane")


def conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """type -> condition, from every place a served version keeps them (the top-level list wins)."""
    st = obj.get("status") or {}
    out: dict[str, Mapping[str, Any]] = {}
    for found in (get(st, "deprecated", "v1beta1", "conditions"), get(st, "v1beta2", "conditions"),
                  st.get("conditions")):
        for c in found or []:
            if isinstance(c, dict) and c.get("type"):
                out[str(c["type"])] = c
    return out


def _false(obj: Mapping[str, Any], types: tuple[str, ...]) -> list[str]:
    conds = conditions(obj)
    return [f"{t}={conds[t].get('status')}" + (f" ({conds[t].get('reason')}: {conds[t].get('message')})"
                                                if conds[t].get("message") else "")
            for t in types if t in conds and conds[t].get("status") != "True"]


def _name(obj: Mapping[str, Any]) -> str:
    return str(get(obj, "metadata", "name"))


def _machine_problems(m: Mapping[str, Any]) -> list[str]:
    st = m.get("status") or {}
    out = [f"Machine {_name(m)} {c}" for c in _false(m, MACHINE_HEALTH)]
    if st.get("phase") == "Failed" or st.get("failureMessage") or get(st, "deprecated", "v1beta1", "failureMessage"):
        out.append(f"Machine {_name(m)} failed: {st.get('failureMessage') or get(st, 'deprecated', 'v1beta1', 'failureMessage') or 'phase Failed'}")
    return out


def cluster_health(kcp: Mapping[str, Any], mds: Sequence[Mapping[str, Any]], machines: Sequence[Mapping[str, Any]]) -> CheckOutcome:
    failures = [f"KubeadmControlPlane {_name(kcp)} {c}" for c in _false(kcp, KCP_HEALTH)]
    reported = [t for t in KCP_HEALTH if t in conditions(kcp)]
    if not reported:
        failures.append(f"KubeadmControlPlane {_name(kcp)} reports none of {', '.join(KCP_HEALTH)}")
    for md in mds:
        want = int(get(md, "spec", "replicas", default=1) or 0)
        have = int(get(md, "status", "availableReplicas", default=0) or 0)
        if have < want:
            failures.append(f"MachineDeployment {_name(md)} has {have}/{want} available replicas")
        failures += [f"MachineDeployment {_name(md)} {c}" for c in _false(md, MD_HEALTH)]
    for m in machines:
        failures += _machine_problems(m)
    evidence = {"kubeadmControlPlane": {t: conditions(kcp)[t].get("status") for t in reported},
                "machineDeployments": {_name(md): {"available": get(md, "status", "availableReplicas"),
                                                   "replicas": get(md, "spec", "replicas")} for md in mds},
                "machines": len(machines)}
    return outcome(failures, f"control plane conditions {', '.join(reported)} True; {len(mds)} MachineDeployment(s) "
                   f"available; {len(machines)} Machine(s) ready", evidence)


def nodes_ready(what: str, machines: Sequence[Mapping[str, Any]], target: str, replicas: int) -> CheckOutcome:
    failures: list[str] = []
    active = [m for m in machines if not get(m, "metadata", "deletionTimestamp")]
    stale = [_name(m) for m in active if not same_version(get(m, "spec", "version"), target)]
    if stale:
        failures.append(f"{len(stale)} Machine(s) of {what} not at {target}: {', '.join(stale[:5])}")
    at_target = [m for m in active if same_version(get(m, "spec", "version"), target)]
    if len(at_target) < replicas:
        failures.append(f"{len(at_target)}/{replicas} Machine(s) of {what} at {target}")
    for m in at_target:
        conds = conditions(m)
        if "Ready" not in conds:
            failures.append(f"Machine {_name(m)} reports no Ready condition")
        failures += _machine_problems(m)
    evidence = {"component": what, "target": target, "replicas": replicas,
                "machines": {_name(m): {"version": get(m, "spec", "version"),
                                        **{t: c.get("status") for t, c in conditions(m).items()
                                           if t in MACHINE_HEALTH}} for m in active[:50]}}
    return outcome(failures, f"{len(at_target)} Machine(s) of {what} Ready at {target}", evidence)


def etcd_backup(obj: Mapping[str, Any], kind: str, annotation: str, params: Mapping[str, Any],
                now: datetime) -> CheckOutcome:
    max_age = max_age_seconds(params)
    raw = (get(obj, "metadata", "annotations", default={}) or {}).get(annotation)
    evidence: dict[str, Any] = {"object": f"{kind} {get(obj, 'metadata', 'namespace')}/{_name(obj)}",
                                "annotation": annotation, "value": raw, "maxAgeSeconds": max_age}
    if max_age is None:
        return CheckOutcome(CheckResult.ERROR, "etcd-backup needs params.maxAgeSeconds (a positive integer)", evidence)
    when = parse_instant(str(raw)) if raw else None
    if raw is None:
        return CheckOutcome(CheckResult.FAIL, f"no etcd backup recorded: {kind} {_name(obj)} has no annotation "
                            f"{annotation}", evidence)
    if when is None:
        return CheckOutcome(CheckResult.ERROR, f"annotation {annotation} of {kind} {_name(obj)} is not an RFC 3339 "
                            f"timestamp: {raw!r}", evidence)
    age = ((now if now.tzinfo else now.replace(tzinfo=UTC)) - when).total_seconds()
    evidence["ageSeconds"] = int(age)
    if age > max_age:
        return CheckOutcome(CheckResult.FAIL, f"newest etcd backup is {int(age)}s old (at {raw}), older than "
                            f"{max_age}s", evidence)
    return CheckOutcome(CheckResult.PASS, f"newest etcd backup is {int(age)}s old (at {raw})", evidence)
