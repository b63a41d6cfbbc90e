"""Pure functions over Cluster API objects for the adapter: read them in either API version (v1beta1 /
v1beta2 field paths differ), build the new infrastructure template, compute the patches, judge whether a
rollout is done. No SDK, no I/O (STYLE 1: ``observe``/``compute``).

Field paths by version (issue 6):
  KCP   infrastructureRef  v1beta1 spec.machineTemplate.infrastructureRef{apiVersion,kind,name}
                           v1beta2 spec.machineTemplate.spec.infrastructureRef{apiGroup,kind,name}
        maxSurge           v1beta1 spec.rolloutStrategy.rollingUpdate.maxSurge
                           v1beta2 spec.rollout.strategy.rollingUpdate.maxSurge
        up to date         v1beta1 status.updatedReplicas, readyReplicas   v1beta2 status.upToDateReplicas, availableReplicas
  MD    strategy           v1beta1 spec.strategy                  v1beta2 spec.rollout.strategy
        minReadySeconds    v1beta1 spec.minReadySeconds           v1beta2 spec.template.spec.minReadySeconds
        drain timeout      v1beta1 spec.template.spec.nodeDrainTimeout ("600s")
                           v1beta2 spec.template.spec.deletion.nodeDrainTimeoutSeconds
        up to date         v1beta1 status.updatedReplicas         v1beta2 status.upToDateReplicas
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from fleet.versions import InvalidVersion, parse_version

Obj = dict[str, Any]

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
CONTROL_PLANE_NAME_LABEL = "cluster.x-k8s.io/control-plane-name"
DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
TOPOLOGY_MD_LABEL = "topology.cluster.x-k8s.io/deployment-name"
HOLD_ANNOTATION = "topology.cluster.x-k8s.io/hold-upgrade-sequence"
DEFER_ANNOTATION = "topology.cluster.x-k8s.io/defer-upgrade"
PAUSED_ANNOTATION = "cluster.x-k8s.io/paused"
CLONED_FROM = "fleet-upgrader.io/cloned-from"
BASE_NAME = "fleet-upgrader.io/template-base-name"
TARGET_VERSION = "fleet-upgrader.io/kubernetes-version"

# where each infrastructure provider keeps the machine image in its MachineTemplate
IMAGE_FIELDS: dict[str, str] = {
    "OCIMachineTemplate": "spec.template.spec.imageId",
    "DevMachineTemplate": "spec.template.spec.backend.docker.customImage",
    "DockerMachineTemplate": "spec.template.spec.customImage",
    "AWSMachineTemplate": "spec.template.spec.ami.id",
    "AzureMachineTemplate": "spec.template.spec.image.id",
    "GCPMachineTemplate": "spec.template.spec.image",
    "OpenStackMachineTemplate": "spec.template.spec.image.id",
    "VSphereMachineTemplate": "spec.template.spec.template",
}
_DROP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "cluster.x-k8s.io/cloned-from-name",
                     "cluster.x-k8s.io/cloned-from-groupkind")
# GitOps controllers that would put a version back after fleet changed it
_GITOPS = (("labels", "kustomize.toolkit.fluxcd.io/name", "Flux Kustomization"),
           ("labels", "helm.toolkit.fluxcd.io/name", "Flux HelmRelease"),
           ("annotations", "argocd.argoproj.io/tracking-id", "Argo CD application"),
           ("labels", "argocd.argoproj.io/instance", "Argo CD application"))


def get(obj: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(obj, dict) or p not in obj:
            return default
        obj = obj[p]
    return obj


def capi_version(v: str) -> str:
    """CAPI spells versions with a leading ``v`` (its defaulting webhooks add it)."""
    v = v.strip()
    return v if v.startswith("v") else f"v{v}"


def same_version(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return parse_version(a) == parse_version(b)
    except InvalidVersion:
        return a == b


@dataclass(frozen=True)
class Ref:
    """A reference to an infrastructure template; ``version`` is None for v1beta2 refs (apiGroup only)."""

    group: str
    kind: str
    name: str
    version: str | None = None

    @classmethod
    def parse(cls, ref: Obj | None) -> Ref:
        ref = ref or {}
        if ref.get("apiGroup"):
            return cls(ref["apiGroup"], ref.get("kind", ""), ref.get("name", ""))
        group, _, version = str(ref.get("apiVersion", "")).rpartition("/")
        return cls(group, ref.get("kind", ""), ref.get("name", ""), version or None)

    def render(self, capi: str, version: str | None = None) -> Obj:
        if capi == "v1beta1":
            return {"apiVersion": f"{self.group}/{version or self.version}", "kind": self.kind, "name": self.name}
        return {"apiGroup": self.group, "kind": self.kind, "name": self.name}


class _View:
    kind: ClassVar[str] = ""

    def __init__(self, capi: str, obj: Obj):
        self.capi, self.obj = capi, obj
        self.meta: Obj = obj.get("metadata") or {}
        self.spec: Obj = obj.get("spec") or {}
        self.status: Obj = obj.get("status") or {}

    @property
    def name(self) -> str:
        return self.meta.get("name", "")

    @property
    def namespace(self) -> str:
        return self.meta.get("namespace", "")

    @property
    def generation(self) -> int:
        return int(self.meta.get("generation") or 0)

    @property
    def observed_generation(self) -> int:
        return int(self.status.get("observedGeneration") or 0)

    @property
    def replicas(self) -> int:
        return int(self.spec.get("replicas", 1))

    @property
    def annotations(self) -> dict[str, str]:
        return self.meta.get("annotations") or {}

    @property
    def paused(self) -> bool:
        return PAUSED_ANNOTATION in self.annotations or bool(self.spec.get("paused"))

    @property
    def status_replicas(self) -> int:
        return int(self.status.get("replicas") or 0)


class KcpView(_View):
    kind = "KubeadmControlPlane"

    @property
    def version(self) -> str:
        return self.spec.get("version", "")

    @property
    def infra_ref(self) -> Ref:
        if self.capi == "v1beta1":
            return Ref.parse(get(self.spec, "machineTemplate", "infrastructureRef"))
        return Ref.parse(get(self.spec, "machineTemplate", "spec", "infrastructureRef"))

    @property
    def max_surge(self) -> Any:
        path = ("rolloutStrategy",) if self.capi == "v1beta1" else ("rollout", "strategy")
        return get(self.spec, *path, "rollingUpdate", "maxSurge", default=1)

    @property
    def status_version(self) -> str | None:
        return self.status.get("version")

    @property
    def up_to_date(self) -> int:
        return int(self.status.get("updatedReplicas" if self.capi == "v1beta1" else "upToDateReplicas") or 0)

    @property
    def available(self) -> int:
        return int(self.status.get("readyReplicas" if self.capi == "v1beta1" else "availableReplicas") or 0)

    @property
    def current_version(self) -> str:
        """What runs: the lowest Machine version the KCP reports, else the spec."""
        return self.status_version or self.version


class MdView(_View):
    kind = "MachineDeployment"

    @property
    def version(self) -> str:
        return get(self.spec, "template", "spec", "version", default="") or ""

    @property
    def infra_ref(self) -> Ref:
        return Ref.parse(get(self.spec, "template", "spec", "infrastructureRef"))

    @property
    def strategy(self) -> Obj:
        path = ("strategy",) if self.capi == "v1beta1" else ("rollout", "strategy")
        return get(self.spec, *path, default={}) or {}

    @property
    def strategy_type(self) -> str:
        return self.strategy.get("type", "RollingUpdate")

    @property
    def up_to_date(self) -> int:
        return int(self.status.get("updatedReplicas" if self.capi == "v1beta1" else "upToDateReplicas") or 0)

    @property
    def available(self) -> int:
        return int(self.status.get("availableReplicas") or 0)

    @property
    def topology_name(self) -> str | None:
        return (self.meta.get("labels") or {}).get(TOPOLOGY_MD_LABEL)


class ClusterView(_View):
    kind = "Cluster"

    @property
    def version(self) -> str:
        return get(self.spec, "topology", "version", default="") or ""


@dataclass(frozen=True)
class Rollout:
    done: bool
    up_to_date: int
    available: int
    replicas: int
    message: str

    @property
    def progress(self) -> float:
        return min(1.0, self.up_to_date / self.replicas) if self.replicas else 1.0


def compute_rollout(view: KcpView | MdView, generation: int, version: str) -> Rollout:
    """Done when the status reports every replica up to date and available at ``version`` and the
    controller has observed (at least) ``generation``."""
    want = view.replicas
    observed = view.observed_generation >= max(generation, view.generation)
    at_version = same_version(view.version, version)
    if isinstance(view, KcpView):
        at_version = at_version and same_version(view.status_version, version)
    done = (observed and at_version and view.up_to_date == want and view.available == want
            and view.status_replicas == want)
    if not observed:
        msg = f"{view.kind} {view.name}: waiting for the controller (generation {view.generation}, observed " \
              f"{view.observed_generation})"
    else:
        msg = (f"{view.kind} {view.name}: {view.up_to_date}/{want} up to date, {view.available}/{want} available, "
               f"{view.status_replicas} Machines at {version}")
    return Rollout(done, view.up_to_date if observed else 0, view.available, want, msg)


def rolling(view: KcpView | MdView) -> bool:
    """Is a rollout still going on for the object's current spec?"""
    r = compute_rollout(view, view.generation, view.version)
    return not r.done


# ---- templates ---------------------------------------------------------------------------------------------

def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def set_path(obj: Obj, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        obj = obj.setdefault(p, {})
    obj[parts[-1]] = value


def get_path(obj: Obj, dotted: str) -> Any:
    return get(obj, *dotted.split("."))


def compute_template_copy(template: Obj, version: str, image: str, image_field: str) -> Obj:
    """The new infrastructure machine template: a copy of ``template`` with ``image`` at ``image_field``,
    server-owned metadata stripped, named ``<base>-<version>-<hash of spec>`` (stable across retries)."""
    meta = template.get("metadata") or {}
    out: Obj = {"apiVersion": template["apiVersion"], "kind": template["kind"], "spec": copy.deepcopy(template["spec"])}
    set_path(out, image_field, image)
    base = (meta.get("annotations") or {}).get(BASE_NAME) or meta["name"]
    digest = hashlib.sha256(json.dumps(out["spec"], sort_keys=True).encode()).hexdigest()[:6]
    suffix = f"-{_slug(version)}-{digest}"
    name = base[:63 - len(suffix)].rstrip("-.") + suffix
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _DROP_ANNOTATIONS}
    annotations.update({CLONED_FROM: meta["name"], BASE_NAME: base, TARGET_VERSION: version})
    new_meta: Obj = {"name": name, "namespace": meta.get("namespace", "default"), "annotations": annotations}
    if meta.get("labels"):
        new_meta["labels"] = dict(meta["labels"])
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "Cluster"]
    if owners:
        new_meta["ownerReferences"] = owners
    out["metadata"] = new_meta
    return out


# ---- patches -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolKnobs:
    """What a node-pool step sets on a MachineDeployment (None = leave the MachineDeployment's own)."""

    max_surge: int | str | None = None
    max_unavailable: int | str | None = None
    min_ready_seconds: int | None = None
    drain_timeout_seconds: int | None = None


def compute_kcp_patch(kcp: KcpView, version: str, ref: Obj, max_surge: int | None) -> Obj:
    spec: Obj = {"version": version}
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": max_surge}}
    if kcp.capi == "v1beta1":
        spec["machineTemplate"] = {"infrastructureRef": ref}
        if max_surge is not None:
            spec["rolloutStrategy"] = strategy
    else:
        spec["machineTemplate"] = {"spec": {"infrastructureRef": ref}}
        if max_surge is not None:
            spec["rollout"] = {"strategy": strategy}
    return {"metadata": {"resourceVersion": kcp.meta.get("resourceVersion")}, "spec": spec}


def compute_md_patch(md: MdView, version: str, ref: Obj, knobs: PoolKnobs) -> Obj:
    tspec: Obj = {"version": version, "infrastructureRef": ref}
    spec: Obj = {"template": {"spec": tspec}}
    rolling_update = {k: v for k, v in (("maxSurge", knobs.max_surge), ("maxUnavailable", knobs.max_unavailable))
                      if v is not None}
    strategy = {"type": "RollingUpdate", "rollingUpdate": rolling_update}
    set_strategy = bool(rolling_update) and md.strategy_type == "RollingUpdate"
    if md.capi == "v1beta1":
        if set_strategy:
            spec["strategy"] = strategy
        if knobs.min_ready_seconds is not None:
            spec["minReadySeconds"] = knobs.min_ready_seconds
        if knobs.drain_timeout_seconds is not None:
            tspec["nodeDrainTimeout"] = f"{knobs.drain_timeout_seconds}s"
    else:
        if set_strategy:
            spec["rollout"] = {"strategy": strategy}
        if knobs.min_ready_seconds is not None:
            tspec["minReadySeconds"] = knobs.min_ready_seconds
        if knobs.drain_timeout_seconds is not None:
            tspec["deletion"] = {"nodeDrainTimeoutSeconds": knobs.drain_timeout_seconds}
    return {"metadata": {"resourceVersion": md.meta.get("resourceVersion")}, "spec": spec}


def compute_topology_patch(cluster: Obj, version: str) -> Obj:
    return {"metadata": {"resourceVersion": get(cluster, "metadata", "resourceVersion")},
            "spec": {"topology": {"version": version}}}


# ---- observations ------------------------------------------------------------------------------------------

def topology_annotations(cluster: Obj, mds: list[MdView]) -> dict[str, list[str]]:
    """MachineDeployments (topology names) held or deferred by the topology annotations, from the Cluster's
    ``spec.topology.workers.machineDeployments[].metadata`` and from the MachineDeployments themselves."""
    held: list[str] = []
    deferred: list[str] = []
    entries = [(m.get("name", ""), get(m, "metadata", "annotations", default={}) or {})
               for m in get(cluster, "spec", "topology", "workers", "machineDeployments", default=[]) or []]
    entries += [(md.topology_name or md.name, md.annotations) for md in mds]
    for name, ann in entries:
        if HOLD_ANNOTATION in ann and name not in held:
            held.append(name)
        if DEFER_ANNOTATION in ann and name not in deferred:
            deferred.append(name)
    return {"holdUpgradeSequence": held, "deferUpgrade": deferred}


def observe_gitops(*objs: Obj) -> str | None:
    """A short description when a GitOps controller owns these objects (it would revert version changes)."""
    for obj in objs:
        meta = obj.get("metadata") or {}
        for where, key, what in _GITOPS:
            value = (meta.get(where) or {}).get(key)
            if value:
                return f"GitOps: managed by {what} {value}; version changes made here may be reverted"
    return None


def failed_machines(machines: list[Obj]) -> list[str]:
    """Names and reasons of Machines the infrastructure could not provision (v1beta1 ``failureReason``,
    v1beta2 ``status.deprecated.v1beta1.failureReason`` or phase Failed)."""
    out = []
    for m in machines:
        st = m.get("status") or {}
        msg = st.get("failureMessage") or get(st, "deprecated", "v1beta1", "failureMessage")
        if st.get("phase") == "Failed" or msg:
            out.append(f"{get(m, 'metadata', 'name')}: {msg or 'phase Failed'}")
    return out
