"""Simulated controllers for MachinePools and managed control planes (CAPA EKS, CAPOCI OKE, CAPZ AKS, CAPG GKE).

The cloud does the work behind these objects; the emulator stands in for the cloud and the provider's
controller together, over virtual time. Each rule cites the provider's code it models (commits in
providers/capi/emulator/crds/PROVENANCE.md):

- Managed control planes: when ``spec.version`` (GKE: ``spec.version`` or the deprecated
  ``spec.controlPlaneVersion``) is above the cloud's version, the controller starts one cloud update and
  reports the cloud's version in ``status`` when it ends (``cp_upgrade`` seconds later).
  * CAPA ``pkg/cloud/services/eks/cluster.go`` ``reconcileClusterVersion``: "you can only upgrade increments of
    minor versions": EKS is moved ONE minor per update (1.29 -> 1.31 runs as two updates); the status
    reports ``major.minor`` (``computeCurrentStatusVersion``: with the spec's patch when the spec names one).
  * CAPOCI ``cloud/scope/managed_control_plane.go`` ``UpdateControlPlane``: ``UpdateClusterDetails`` with
    ``KubernetesVersion: controlPlaneSpec.Version`` (the version as written, in one update).
  * CAPZ: the managed cluster spec carries ``spec.version`` to AKS in one update; ``status.version``.
  * CAPG ``cloud/services/container/clusters/reconcile.go``: ``DesiredMasterVersion`` from the spec;
    ``status.currentVersion`` is the cluster's ``CurrentMasterVersion``.
- MachinePools (``cluster.x-k8s.io`` MachinePool + an infrastructure machine pool): the nodes move to the
  pool's version a batch at a time; a batch is ``maxUnavailable`` nodes that are unavailable for ``provision``
  seconds. The version comes from ``MachinePool.spec.template.spec.version`` except for OKE, where it is
  ``OCIManagedMachinePool.spec.version`` (CAPOCI ``cloud/scope/managed_machine_pool.go``: ``KubernetesVersion:
  m.OCIManagedMachinePool.Spec.Version``).
  * CAPA ``pkg/cloud/services/eks/nodegroup.go`` ``reconcileNodegroupVersion``: one minor per
    ``UpdateNodegroupVersion``; ``updateConfig.maxUnavailable`` / ``maxUnavailablePercentage`` is the batch
    (EKS's own default: 1).
  * CAPOCI: OKE replaces existing nodes only when ``spec.nodePoolCyclingDetails.isNodeCyclingEnabled`` is true
    (``managed_machine_pool.go`` passes ``NodePoolCyclingDetails`` to ``UpdateNodePool``); without it the
    pool's version changes for new nodes only, and the existing nodes stay (the MachinePool never reports
    them up to date). ``maximumUnavailable`` (int or percent, default 1 here) is the batch.
  * CAPA reads the node group's version from the MachinePool (``pkg/cloud/scope/managednodegroup.go``
    ``Version``); CAPG likewise (``cloud/scope/managedmachinepool.go``: ``sdkNodePool.Version`` from
    ``machinePool.Spec.Template.Spec.Version``).
  * CAPZ ``azure/scope/managedcontrolplane.go`` ``GetAllAgentPoolSpecs``: "MachinePool version cannot be greater
    than the AzureManagedControlPlane version" — such a pool is not rolled (the reconcile errors).
  * CAPZ AKS / CAPG GKE / CAPD DevMachinePool: one node at a time (AKS default surge 1, GKE default surge 1).

Status written (per served version): MachinePool ``replicas``, ``readyReplicas``, ``availableReplicas``,
``upToDateReplicas`` (v1beta2; ``v1beta2`` block on v1beta1), ``versions`` (node counts per version),
``observedGeneration``, ``phase``; infrastructure pools ``ready`` and ``replicas``; control planes ``ready``
and the version field above.

Admission (webhooks), also cited: MachinePool ``core/webhooks/admission/machinepool.go`` (the defaulting
webhook prepends ``v``; the validator requires it); AWSManagedControlPlane
``controlplane/eks/webhooks/awsmanagedcontrolplane_webhook.go`` ``validateEKSVersion`` ("new version less
than old version"); AzureManagedControlPlane ``internal/webhooks/azuremanagedcontrolplane_validation.go``
``validateAzureManagedControlPlaneK8sVersionUpdate`` ("field version cannot be downgraded");
OCIManagedMachinePool ``exp/api/v1beta2/ocimanagedmachinepool_webhook.go`` ``validateVersion`` (required, a
semantic version); GCPManagedControlPlane ``exp/webhooks/gcpmanagedcontrolplane_webhook.go`` (``version`` and
``controlPlaneVersion`` not both).

Not modelled: autoscaling (``scaling``), AMI release versions (``amiVersion``), launch templates, AKS
auto-upgrade channels (``autoUpgradeProfile``) and GKE release channels moving versions by themselves,
MachinePool Machines, failures of cloud operations.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from providers.capi.emulator.controllers import LABEL_CLUSTER, Budget, Timings, _get, version_key
from providers.capi.emulator.schema import Cause, ResourceType
from providers.capi.emulator.store import ObjectStore, StatusError, clone

Obj = dict[str, Any]

# control plane kind -> (spec paths, in order of precedence; status path; one minor per cloud update)
CONTROL_PLANES: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[str, ...], bool]] = {
    "AWSManagedControlPlane": ((("spec", "version"),), ("status", "version"), True),
    "OCIManagedControlPlane": ((("spec", "version"),), ("status", "version"), False),
    "AzureManagedControlPlane": ((("spec", "version"),), ("status", "version"), False),
    "GCPManagedControlPlane": ((("spec", "version"), ("spec", "controlPlaneVersion")), ("status", "currentVersion"),
                               False),
}
INFRA_POOLS = ("AWSManagedMachinePool", "OCIManagedMachinePool", "AzureManagedMachinePool", "GCPManagedMachinePool",
               "DevMachinePool")
_SEMVER = re.compile(r"^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.+-]+)?$")


def _minor(v: str) -> tuple[int, int]:
    k = version_key(v)
    return (k[0], k[1]) if len(k) > 1 else (k[0], 0)


def _older(a: str, b: str) -> bool:
    return version_key(a) < version_key(b)


def _resolve(value: Any, total: int) -> int:
    """An int or "N%" string (rounded down, at least 1)."""
    if value is None:
        return 1
    s = str(value).strip()
    if s.endswith("%"):
        return max(1, math.floor(total * int(s[:-1]) / 100))
    return max(1, int(s))


@dataclass
class CpSim:
    current: str                               # the cloud's version
    updating_to: str | None = None
    done_at: datetime | None = None


@dataclass
class PoolSim:
    nodes: list[str] = field(default_factory=list)   # node versions
    batch: list[int] = field(default_factory=list)
    batch_to: str = ""
    done_at: datetime | None = None


@dataclass
class PoolTimings:
    cp_upgrade: float = 1200.0                 # one managed control-plane update


class PoolControllers:
    """The MachinePool and managed control-plane controllers of one emulated management cluster."""

    def __init__(self, store: ObjectStore, types: dict[str, ResourceType], timings: Timings,
                 pool_timings: PoolTimings | None = None):
        self.store, self.types, self.timings = store, types, timings
        self.pt = pool_timings or PoolTimings()
        self.cps: dict[tuple[str, str, str], CpSim] = {}
        self.pools: dict[tuple[str, str], PoolSim] = {}
        self.budget: dict[tuple[str, str, str], Budget] = {}
        self._seen: dict[tuple[str, str, str], tuple[int, datetime]] = {}
        self.fail_next = False          # test control: the next control-plane update fails in the cloud
        self.failed: dict[tuple[str, str, str], str] = {}

    # ---- seeding -----------------------------------------------------------------------------------------
    def seed_cp(self, kind: str, ns: str, name: str, version: str, t: datetime) -> None:
        self.cps[(kind, ns, name)] = CpSim(version)
        self._seen[(kind, ns, name)] = (1000, t - timedelta(seconds=self.timings.controller_delay))

    def seed_pool(self, ns: str, name: str, version: str, replicas: int, t: datetime, infra_gen: int = 1) -> None:
        self.pools[(ns, name)] = PoolSim([version] * replicas)
        self._seen[("MachinePool", ns, name)] = (1000 + infra_gen, t - timedelta(seconds=self.timings.controller_delay))

    # ---- event loop (called by controllers.Controllers) --------------------------------------------------
    def next_event(self, t: datetime) -> datetime | None:
        times = [x.done_at for x in self.cps.values() if x.done_at is not None]
        times += [x.done_at for x in self.pools.values() if x.done_at is not None]
        times += [first + timedelta(seconds=self.timings.controller_delay) for _, first in self._seen.values()]
        future = [x for x in times if x > t]
        return min(future) if future else None

    def settle(self, t: datetime) -> bool:
        changed = False
        for kind in CONTROL_PLANES:
            rt = self.types.get(kind)
            for cp in self.store.peek_list(rt) if rt else []:
                changed |= self._cp(kind, cp, t)
        rt = self.types.get("MachinePool")
        for mp in self.store.peek_list(rt) if rt else []:
            changed |= self._pool(mp, t)
        return changed

    def _observed(self, kind: str, obj: Obj, t: datetime, extra_gen: int = 0) -> bool:
        key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        gen = int(obj["metadata"].get("generation", 1)) * 1000 + extra_gen
        seen = self._seen.get(key)
        if seen is None or seen[0] != gen:
            self._seen[key] = seen = (gen, t)
        return t >= seen[1] + timedelta(seconds=self.timings.controller_delay)

    # ---- control planes ----------------------------------------------------------------------------------
    def _cp(self, kind: str, cp: Obj, t: datetime) -> bool:
        ns, name = cp["metadata"]["namespace"], cp["metadata"]["name"]
        paths, status_path, stepwise = CONTROL_PLANES[kind]
        want = next((_get(cp, *p) for p in paths if _get(cp, *p)), None)
        sim = self.cps.setdefault((kind, ns, name), CpSim(want or ""))
        changed = False
        if sim.done_at is not None and t >= sim.done_at and sim.updating_to:
            sim.current, sim.updating_to, sim.done_at = sim.updating_to, None, None
            changed = True
        if want and sim.updating_to is None and self._observed(kind, cp, t) and _older(sim.current, want) \
                and (kind, ns, name) not in self.failed:
            if self.fail_next:                      # injected: the cloud's update operation fails
                self.fail_next = False
                self.failed[(kind, ns, name)] = f"the cloud failed to update the control plane to {want}"
                changed = True
            nxt = want
            if stepwise and _minor(want) > (_minor(sim.current)[0], _minor(sim.current)[1] + 1):
                # CAPA cluster.go reconcileClusterVersion: versionToEKS(clusterVersion.WithMinor(minor + 1))
                nxt = f"v{_minor(sim.current)[0]}.{_minor(sim.current)[1] + 1}"
            if (kind, ns, name) not in self.failed:
                sim.updating_to, sim.done_at = nxt, t + timedelta(seconds=self.pt.cp_upgrade)
                changed = True
        status = {**(cp.get("status") or {}), "ready": True}
        if (kind, ns, name) in self.failed:
            # a CAPI v1beta1 condition, as the providers report reconcile errors (severity Error)
            status["conditions"] = [{"type": "Ready", "status": "False", "severity": "Error", "reason": "UpgradeFailed",
                                     "message": self.failed[(kind, ns, name)],
                                     "lastTransitionTime": t.strftime("%Y-%m-%dT%H:%M:%SZ")}]
        shown = sim.current
        if kind == "AWSManagedControlPlane":
            # cluster.go computeCurrentStatusVersion: major.minor, or the spec's patch when the minor matches
            mj, mn = _minor(sim.current)
            shown = f"{mj}.{mn}"
            if want and _minor(want) == (mj, mn) and len(version_key(want)) > 2 and version_key(want)[2] != 0:
                shown = want.lstrip("v")
        node = status
        for p in status_path[1:-1]:
            node = node.setdefault(p, {})
        node[status_path[-1]] = shown
        self._write_status(kind, cp, status)
        return changed

    # ---- machine pools -----------------------------------------------------------------------------------
    def _infra(self, mp: Obj) -> tuple[str, Obj | None]:
        ref = _get(mp, "spec", "template", "spec", "infrastructureRef", default={}) or {}
        kind = ref.get("kind", "")
        rt = self.types.get(kind)
        obj = self.store.peek(rt, mp["metadata"]["namespace"], ref.get("name", "")) if rt else None
        return kind, obj

    def _pool(self, mp: Obj, t: datetime) -> bool:
        ns, name = mp["metadata"]["namespace"], mp["metadata"]["name"]
        kind, infra = self._infra(mp)
        replicas = int(_get(mp, "spec", "replicas", default=1) or 0)
        want = _get(mp, "spec", "template", "spec", "version") or ""
        if kind == "OCIManagedMachinePool" and infra is not None:
            want = _get(infra, "spec", "version") or want
        sim = self.pools.setdefault((ns, name), PoolSim([want] * replicas))
        changed = False
        if sim.done_at is not None and t >= sim.done_at:
            for i in sim.batch:
                if i < len(sim.nodes):
                    sim.nodes[i] = sim.batch_to
            sim.batch, sim.done_at = [], None
            changed = True
        while len(sim.nodes) < replicas:
            sim.nodes.append(want)
        del sim.nodes[replicas:]
        infra_gen = int((infra or {}).get("metadata", {}).get("generation", 0))
        observed = self._observed("MachinePool", mp, t, infra_gen)
        cycling = kind != "OCIManagedMachinePool" or bool(_get(infra, "spec", "nodePoolCyclingDetails",
                                                                "isNodeCyclingEnabled"))
        outdated = [i for i, v in enumerate(sim.nodes) if want and v != want]
        if kind == "AzureManagedMachinePool" and want and self._aks_ahead(mp, want):
            outdated = []                           # GetAllAgentPoolSpecs refuses a pool above the control plane
        if want and observed and not sim.batch and outdated and cycling:
            target = want
            oldest = min(sim.nodes, key=version_key)
            if kind == "AWSManagedMachinePool" and _minor(want) > (_minor(oldest)[0], _minor(oldest)[1] + 1):
                # CAPA nodegroup.go reconcileNodegroupVersion: one minor per UpdateNodegroupVersion
                target = f"v{_minor(oldest)[0]}.{_minor(oldest)[1] + 1}"
            size = self._batch(kind, infra, replicas)
            sim.batch = [i for i in outdated if sim.nodes[i] != target][:size] or outdated[:size]
            sim.batch_to, sim.done_at = target, t + timedelta(seconds=self.timings.provision)
            changed = True
        b = self.budget.setdefault(("MachinePool", ns, name), Budget())
        b.max_unavailable = max(b.max_unavailable, len(sim.batch))
        b.samples += 1
        self._pool_status(mp, kind, infra, sim, want, replicas, observed)
        return changed

    def _aks_ahead(self, mp: Obj, want: str) -> bool:
        rt = self.types.get("AzureManagedControlPlane")
        cluster = _get(mp, "spec", "clusterName") or ""
        cps = self.store.peek_list(rt, mp["metadata"]["namespace"], f"{LABEL_CLUSTER}={cluster}") if rt else []
        return any(_older(_get(cp, "spec", "version") or want, want) for cp in cps)

    @staticmethod
    def _batch(kind: str, infra: Obj | None, replicas: int) -> int:
        if kind == "AWSManagedMachinePool":
            uc = _get(infra, "spec", "updateConfig", default={}) or {}
            if uc.get("maxUnavailable"):
                return int(uc["maxUnavailable"])
            if uc.get("maxUnavailablePercentage"):
                return max(1, math.floor(replicas * int(uc["maxUnavailablePercentage"]) / 100))
            return 1
        if kind == "OCIManagedMachinePool":
            return _resolve(_get(infra, "spec", "nodePoolCyclingDetails", "maximumUnavailable"), replicas)
        return 1

    def _pool_status(self, mp: Obj, kind: str, infra: Obj | None, sim: PoolSim, want: str, replicas: int,
                     observed: bool) -> None:
        ready = replicas - len(sim.batch)
        counts: dict[str, int] = {}
        for v in sim.nodes:
            counts[v] = counts.get(v, 0) + 1
        up = counts.get(want, 0) if not sim.batch else sum(1 for i, v in enumerate(sim.nodes)
                                                           if v == want and i not in sim.batch)
        rt = self.types["MachinePool"]
        status: Obj = {**(mp.get("status") or {}), "replicas": replicas, "readyReplicas": ready,
                       "availableReplicas": ready, "phase": "Running" if not sim.batch else "ScalingUp",
                       "versions": [{"version": v, "replicas": n} for v, n in sorted(counts.items())]}
        if rt.version == "v1beta1":
            status["unavailableReplicas"] = replicas - ready
            status["v1beta2"] = {"readyReplicas": ready, "availableReplicas": ready, "upToDateReplicas": up}
        else:
            status["upToDateReplicas"] = up
        if observed:
            status["observedGeneration"] = mp["metadata"].get("generation", 1)
        self._write_status("MachinePool", mp, status)
        if infra is not None and kind in self.types:
            self._write_status(kind, infra, {**(infra.get("status") or {}), "ready": True, "replicas": replicas})

    def _write_status(self, kind: str, obj: Obj, status: Obj) -> None:
        if obj.get("status") == status:
            return
        rt = self.types[kind]
        try:
            self.store.update(rt, obj["metadata"]["namespace"], obj["metadata"]["name"],
                              {**clone(obj), "status": status}, subresource="status", check_rv=False)
        except StatusError:
            pass


# ---- admission -----------------------------------------------------------------------------------------------

def admit(rt: ResourceType, old: Obj | None, new: Obj) -> list[Cause]:
    """The providers' webhooks for the kinds above (see the module docstring for the sources)."""
    kind, spec = rt.kind, new.get("spec") or {}
    if kind == "MachinePool":
        return _admit_machine_pool(spec)
    return _admit_managed(kind, spec, old)


def _admit_machine_pool(spec: Obj) -> list[Cause]:
    tspec = _get(spec, "template", "spec", default={}) or {}
    v = tspec.get("version")
    if not v:
        return []
    if not v.startswith("v"):
        tspec["version"] = v = "v" + v        # machinepool.go Default: prepend "v"
    if not _SEMVER.match(v):
        return [Cause("FieldValueInvalid", f'Invalid value: "{v}": must be a valid semantic version',
                      "spec.template.spec.version")]
    return []


def _admit_managed(kind: str, spec: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    if kind == "AWSManagedControlPlane" and old is not None:
        v, ov = spec.get("version"), _get(old, "spec", "version")
        if v and ov and (_minor(v)[0] < _minor(ov)[0] or _minor(v)[1] < _minor(ov)[1]):
            causes.append(Cause("FieldValueInvalid", f'Invalid value: "{v}": new version less than old version',
                                "spec.version"))
    elif kind == "AzureManagedControlPlane":
        v = spec.get("version")
        if v and not v.startswith("v"):
            spec["version"] = v = "v" + v              # azuremanagedcontrolplane_webhook.go Default: NormalizeVersion
        ov = _get(old, "spec", "version") if old else None
        if v and ov and _older(v, ov):
            causes.append(Cause("FieldValueInvalid", f'Invalid value: "{v}": field version cannot be downgraded',
                                "spec.version"))
    elif kind == "OCIManagedMachinePool":
        v = spec.get("version")
        if not v:
            causes.append(Cause("FieldValueInvalid", "Invalid value: null: field is required", "spec.version"))
        elif not _SEMVER.match(v):
            causes.append(Cause("FieldValueInvalid", f'Invalid value: "{v}": must be a valid semantic version',
                                "spec.version"))
    elif kind == "GCPManagedControlPlane" and spec.get("version") and spec.get("controlPlaneVersion"):
        causes.append(Cause("FieldValueInvalid", "spec.ControlPlaneVersion and spec.Version cannot be set at the "
                            "same time: please use spec.Version", "spec.ControlPlaneVersion"))
    return causes


def version_of(kind: str, obj: Obj) -> str | None:
    """The Kubernetes version an object of these kinds asks for (None: not one of them)."""
    if kind == "MachinePool":
        return _get(obj, "spec", "template", "spec", "version")
    if kind in CONTROL_PLANES:
        return next((_get(obj, *p) for p in CONTROL_PLANES[kind][0] if _get(obj, *p)), None)
    if kind == "OCIManagedMachinePool":
        return _get(obj, "spec", "version")
    return None


def cluster_of(obj: Obj) -> str:
    return (obj["metadata"].get("labels") or {}).get(LABEL_CLUSTER) or _get(obj, "spec", "clusterName") or ""
