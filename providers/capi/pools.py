"""MachinePools and managed control planes: field paths, budget translation, rollout judgment (pure).

Kinds (field paths per served API version are the same in every version these kinds are served in):

==========================  =========================================  ===========================  ==========
control plane kind          group / versions                           version (spec -> status)     cloud
==========================  =========================================  ===========================  ==========
AWSManagedControlPlane      controlplane.cluster.x-k8s.io v1beta2      spec.version -> status.version  EKS
OCIManagedControlPlane      infrastructure.cluster.x-k8s.io v1beta2|1  spec.version -> status.version  OKE
AzureManagedControlPlane    infrastructure.cluster.x-k8s.io v1beta1    spec.version -> status.version  AKS
GCPManagedControlPlane      infrastructure.cluster.x-k8s.io v1beta1    spec.version (or deprecated
                                                                       spec.controlPlaneVersion) ->
                                                                       status.currentVersion          GKE
==========================  =========================================  ===========================  ==========

Node pools are ``cluster.x-k8s.io`` MachinePools (v1beta1 / v1beta2): ``spec.template.spec.version``, the
infrastructure pool in ``spec.template.spec.infrastructureRef`` (v1beta1: apiVersion; v1beta2: apiGroup), done
when ``status.observedGeneration`` caught up and ``status.versions`` lists every replica at the new version
with ``readyReplicas == spec.replicas``. Infrastructure pools and what a step writes into them:

- AWSManagedMachinePool (CAPA, EKS node group): ``spec.updateConfig.maxUnavailable`` or
  ``maxUnavailablePercentage`` (EKS has no surge knob; 1..100);
- OCIManagedMachinePool (CAPOCI, OKE node pool): ``spec.version`` (CAPOCI takes the node pool's version from
  here, not from the MachinePool), ``spec.nodePoolCyclingDetails`` {isNodeCyclingEnabled: true,
  maximumSurge, maximumUnavailable} (without node cycling OKE never replaces existing nodes), and
  ``spec.nodeSourceViaImage.imageId`` from settings.images when listed (else removed: CAPOCI then looks up
  the OKE image of the version);
- AzureManagedMachinePool, GCPManagedMachinePool: nothing (the MachinePool's version is all; no budget knob
  in these CRDs);
- DevMachinePool (CAPD) on kubeadm clusters: ``spec.backend.docker.customImage`` from settings.images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.provider import Step
from fleet.versions import InvalidVersion, parse_version
from providers.capi.objects import Ref, capi_version, get, same_version
from providers.cloud_budgets import eks_unavailable, oke_grace_duration, oke_surge_unavailable

CAPI = "cluster.x-k8s.io"
CP = "controlplane.cluster.x-k8s.io"
INFRA = "infrastructure.cluster.x-k8s.io"
MP = "MachinePool"


@dataclass(frozen=True)
class CpKind:
    group: str
    spec: tuple[tuple[str, ...], ...]       # where the version is asked for, in order of precedence
    status: tuple[str, ...]
    cloud: str


CONTROL_PLANES: dict[str, CpKind] = {
    "AWSManagedControlPlane": CpKind(CP, (("spec", "version"),), ("status", "version"), "EKS"),
    "OCIManagedControlPlane": CpKind(INFRA, (("spec", "version"),), ("status", "version"), "OKE"),
    "AzureManagedControlPlane": CpKind(INFRA, (("spec", "version"),), ("status", "version"), "AKS"),
    "GCPManagedControlPlane": CpKind(INFRA, (("spec", "version"), ("spec", "controlPlaneVersion")),
                                     ("status", "currentVersion"), "GKE"),
}
POOL_IMAGE_FIELDS = {"DevMachinePool": "spec.backend.docker.customImage"}


class CpView:
    """A managed control plane object."""

    def __init__(self, kind: str, obj: dict[str, Any]):
        self.kind, self.obj, self.k = kind, obj, CONTROL_PLANES[kind]
        self.namespace, self.name = obj["metadata"]["namespace"], obj["metadata"]["name"]

    @property
    def version(self) -> str:
        """What the spec asks for (with a leading v)."""
        v = next((get(self.obj, *p) for p in self.k.spec if get(self.obj, *p)), "")
        return capi_version(str(v)) if v else ""

    @property
    def current_version(self) -> str:
        """What the cloud runs (status), the spec's version until the status says."""
        v = get(self.obj, *self.k.status)
        return capi_version(str(v)) if v else self.version

    @property
    def busy(self) -> bool:
        return not _covers(self.current_version, self.version)

    @property
    def ready(self) -> bool:
        return bool(get(self.obj, "status", "ready"))


class PoolView:
    """A MachinePool and its infrastructure machine pool."""

    def __init__(self, capi: str, obj: dict[str, Any], infra: dict[str, Any] | None):
        self.capi, self.obj, self.infra = capi, obj, infra
        self.namespace, self.name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        ref = get(obj, "spec", "template", "spec", "infrastructureRef", default={}) or {}
        api = str(ref.get("apiVersion") or "")
        self.infra_ref = Ref(ref.get("apiGroup") or api.partition("/")[0] or INFRA, ref.get("kind", ""),
                             ref.get("name", ""), api.partition("/")[2] or None)

    @property
    def kind(self) -> str:
        return MP

    @property
    def version(self) -> str:
        v = get(self.obj, "spec", "template", "spec", "version") or ""
        return capi_version(v) if v else ""

    @property
    def replicas(self) -> int:
        return int(get(self.obj, "spec", "replicas", default=1) or 0)

    @property
    def generation(self) -> int:
        return int(self.obj["metadata"].get("generation", 1))

    @property
    def ready_replicas(self) -> int:
        return int(get(self.obj, "status", "readyReplicas", default=0) or 0)

    def versions(self) -> dict[str, int]:
        return {str(x.get("version")): int(x.get("replicas") or 0) for x in get(self.obj, "status", "versions",
                                                                                  default=[]) or []}

    def observed(self, generation: int | None = None) -> bool:
        seen = int(get(self.obj, "status", "observedGeneration", default=0) or 0)
        return seen >= max(generation or 0, self.generation)

    def at(self, version: str) -> int:
        return sum(n for v, n in self.versions().items() if same_version(v, version))

    def settled(self, version: str | None = None, generation: int | None = None) -> bool:
        want = version or self.version
        return (self.observed(generation) and self.at(want) >= self.replicas and
                self.ready_replicas >= self.replicas)

    @property
    def infra_version(self) -> str | None:
        """OCIManagedMachinePool.spec.version (the version OKE gets), None for other kinds."""
        if self.infra_ref.kind != "OCIManagedMachinePool":
            return None
        v = get(self.infra, "spec", "version")
        return capi_version(str(v)) if v else None

    def asks_for(self, to: str) -> bool:
        return same_version(self.version, to) and (self.infra_version is None or same_version(self.infra_version, to))


def _covers(current: str, wanted: str) -> bool:
    """EKS reports ``major.minor`` only: a status of v1.31 covers a spec of v1.31.2."""
    try:
        c, w = parse_version(current), parse_version(wanted)
    except InvalidVersion:
        return current == wanted
    return c == w or (c.minor_key == w.minor_key and current.count(".") == 1)


def compute_cp_patch(view: CpView, to: str) -> dict[str, Any]:
    """Merge patch of a managed control plane to ``to`` (resourceVersion as precondition). GKE: the
    deprecated ``controlPlaneVersion`` is cleared (its webhook refuses both set)."""
    spec: dict[str, Any] = {"version": to}
    if view.kind == "GCPManagedControlPlane" and get(view.obj, "spec", "controlPlaneVersion"):
        spec["controlPlaneVersion"] = None
    return {"metadata": {"resourceVersion": view.obj["metadata"]["resourceVersion"]}, "spec": spec}


def compute_pool_patch(view: PoolView, to: str) -> dict[str, Any]:
    """No resourceVersion precondition: the infrastructure pool was just patched, and the MachinePool's status
    moves with it; the patch sets one field only."""
    return {"spec": {"template": {"spec": {"version": to}}}}


def _knob(spec: str | None, value: int | None) -> str | None:
    if spec and spec.strip().endswith("%"):
        return spec.strip()
    return None if value is None else str(value)


def compute_infra_patch(kind: str, step: Step, to: str, image: str | None) -> tuple[dict[str, Any] | None, list[str]]:
    """(merge patch of the infrastructure machine pool or None, warnings) for a node-pool step to ``to``."""
    w: list[str] = []
    if step.strategy == "blue-green":
        w.append(f"{kind} has no blue-green strategy: the cloud replaces nodes in place")
    if step.drain_timeout_seconds is not None and kind != "OCIManagedMachinePool":
        w.append(f"{kind}: drainTimeout is not a field of this CRD; the cloud's own drain applies")
    if step.node_soak_seconds is not None:
        w.append(f"{kind}: nodeSoak is not a field of this CRD: not honoured")
    if kind == "AWSManagedMachinePool":
        spec, more = _eks_update_config(step)
    elif kind == "OCIManagedMachinePool":
        spec, more = _oke_cycling(step, to, image)
    elif kind in POOL_IMAGE_FIELDS:
        if image is None:
            return None, [*w, f"blocked: no image for {kind} at {to} in settings.images; nothing will be changed"]
        spec = _set_path({}, POOL_IMAGE_FIELDS[kind].split(".")[1:], image)
        more = [f"MachinePool with {kind}: no rollout budget field; maxSurge/maxUnavailable are not honoured"] \
            if step.max_surge or step.max_unavailable else []
    else:
        spec = {}
        more = [f"{kind} has no rollout budget field in its CRD: maxSurge/maxUnavailable are not honoured (the "
                "cloud's defaults apply)"] if step.max_surge or step.max_unavailable else []
    return ({"spec": spec} if spec else None), w + more


def _set_path(node: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    cur = node
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return node


def _eks_update_config(step: Step) -> tuple[dict[str, Any], list[str]]:
    """AWSManagedMachinePool.spec.updateConfig: the same fields as the EKS API's NodegroupUpdateConfig, so the same
    rules (providers/cloud_budgets.py): maxUnavailable 1..100 or maxUnavailablePercentage (whole, rounded up), the
    other one cleared; no surge field in the CRD (CAPA sets no updateStrategy), so a maxSurge above 0 is a
    warning."""
    w: list[str] = []
    if step.max_surge:
        w.append("EKS node groups (AWSManagedMachinePool.updateConfig) take no maxSurge: EKS launches new nodes "
                 f"itself; maxSurge {step.max_surge_spec or step.max_surge} is not honoured")
    cfg, more = eks_unavailable(step.max_unavailable_spec, step.max_unavailable)
    if not cfg:
        return {}, w
    other = "maxUnavailable" if "maxUnavailablePercentage" in cfg else "maxUnavailablePercentage"
    return {"updateConfig": {**cfg, other: None}}, w + more


def _oke_cycling(step: Step, to: str, image: str | None) -> tuple[dict[str, Any], list[str]]:
    """OCIManagedMachinePool: the version, node cycling on with maximumSurge/maximumUnavailable (the rules of the
    OKE API's nodePoolCyclingDetails, providers/cloud_budgets.py; the pool size is not known here, so integers are
    not capped), the drain timeout as ``nodeEvictionNodePoolSettings.evictionGraceDuration``, the image (None:
    CAPOCI looks up the OKE image of the version)."""
    w: list[str] = []
    surge, unavailable = oke_surge_unavailable(step.max_surge_spec, step.max_surge, step.max_unavailable_spec,
                                               step.max_unavailable, None, w)
    cycling = {"isNodeCyclingEnabled": True, "maximumSurge": surge, "maximumUnavailable": unavailable}
    spec: dict[str, Any] = {"version": to, "nodePoolCyclingDetails": cycling, "nodeSourceViaImage": {"imageId": image}}
    if step.drain_timeout_seconds is not None:
        spec["nodeEvictionNodePoolSettings"] = {
            "evictionGraceDuration": oke_grace_duration(step.drain_timeout_seconds, w)}
    return spec, w


def compute_pool_rollout(view: PoolView, to: str, generation: int) -> tuple[bool, float, str]:
    """(done, progress, message) of a MachinePool moving to ``to``."""
    at = view.at(to)
    done = view.settled(to, generation)
    progress = (at / view.replicas) if view.replicas else 1.0
    return done, (1.0 if done else min(progress, 0.99)), (
        f"MachinePool {view.name}: {at}/{view.replicas} at {to}, {view.ready_replicas} ready")
