"""Render the simulated state into API objects: Machines, MachineSets, and the status of KubeadmControlPlanes,
MachineDeployments and Clusters, in the field layout of the served CAPI version (v1beta1 or v1beta2).

A status is only rewritten once the controller has observed the object's current generation, so a client
that just changed a spec sees ``observedGeneration`` lag behind ``generation`` with the old counts, as on a
real management cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleet.clock import iso
from providers.capi.emulator.controllers import (
    LABEL_CLUSTER,
    LABEL_CP,
    LABEL_CP_NAME,
    LABEL_HASH,
    LABEL_MD,
    LABEL_MS,
    SimMachine,
    SimMachineSet,
    version_key,
)
from providers.capi.emulator.schema import ResourceType

if TYPE_CHECKING:
    from providers.capi.emulator.controllers import Controllers

Obj = dict[str, Any]
CAPI = "cluster.x-k8s.io"


class Renderer:
    def __init__(self, ctrl: Controllers):
        self.c = ctrl
        self.v = ctrl.v
        self.t = ctrl.t
        self.store = ctrl.store
        self.types = ctrl.types

    def render_all(self) -> None:
        for s in list(self.c.machinesets.values()):
            self._put(self.types["MachineSet"], self._machineset(s))
        for m in list(self.c.machines.values()):
            self._put(self.types["Machine"], self._machine(m))
        for kcp in self.store.peek_list(self.types["KubeadmControlPlane"]):
            self._status(self.types["KubeadmControlPlane"], kcp, self._kcp_status)
        for md in self.store.peek_list(self.types["MachineDeployment"]):
            self._status(self.types["MachineDeployment"], md, self._md_status)
        for c in self.store.peek_list(self.types["Cluster"]):
            self._status(self.types["Cluster"], c, self._cluster_status)

    # ---- helpers -----------------------------------------------------------------------------------------
    def _put(self, rt: ResourceType, desired: Obj) -> None:
        ns, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        status = desired.pop("status", None)
        cur = self.store.peek(rt, ns, name)
        if cur is None:
            cur, _ = self.store.create(rt, ns, desired)
        elif cur.get("spec") != desired.get("spec") or cur["metadata"].get("labels") != desired["metadata"].get("labels"):
            cur = {**cur, "spec": desired["spec"], "metadata": {**cur["metadata"], "labels": desired["metadata"].get("labels")}}
            cur, _ = self.store.update(rt, ns, name, cur, check_rv=False)
        if status is not None:
            status.setdefault("observedGeneration", cur["metadata"].get("generation", 1))
            if cur.get("status") != status:
                self.store.update(rt, ns, name, {**cur, "status": status}, subresource="status", check_rv=False)

    def _status(self, rt: ResourceType, obj: Obj, fn: Any) -> None:
        key = (rt.kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        gen = self.c._observed_gen.get(key)
        if gen is None or gen != obj["metadata"].get("generation"):
            return                                  # not reconciled yet: the old status stays
        status = fn(obj)
        status["observedGeneration"] = gen
        if obj.get("status") != status:
            self.store.update(rt, key[1], key[2], {**obj, "status": status}, subresource="status", check_rv=False)

    def _since(self, key: tuple[Any, ...], status: str) -> str:
        prev = self.c.conds.get(key)
        if prev is None or prev[0] != status:
            self.c.conds[key] = prev = (status, self.t)
        return iso(prev[1]) or ""

    def _forced(self, owner: tuple[str, ...], ctype: str, ok: bool, reason: str, message: str) -> tuple[bool, str, str]:
        forced = self.c.condition_overrides.get(owner + (ctype,))
        return forced if forced is not None else (ok, reason, message)

    def _cond1(self, owner: tuple[str, ...], ctype: str, ok: bool, reason: str = "", message: str = "") -> Obj:
        """A v1beta1 (clusterv1.Condition) condition."""
        ok, reason, message = self._forced(owner, ctype, ok, reason, message)
        status = "True" if ok else "False"
        out: Obj = {"type": ctype, "status": status, "lastTransitionTime": self._since(owner + ("v1", ctype), status)}
        if not ok:
            out.update(reason=reason or "Pending", severity="Info")
            if message:
                out["message"] = message
        return out

    def _cond2(self, owner: tuple[str, ...], ctype: str, ok: bool, reason: str, message: str = "",
               generation: int | None = None) -> Obj:
        """A v1beta2 (metav1.Condition) condition."""
        ok, reason, message = self._forced(owner, ctype, ok, reason, message)
        status = "True" if ok else "False"
        out: Obj = {"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastTransitionTime": self._since(owner + ("v2", ctype), status)}
        if generation:
            out["observedGeneration"] = generation
        return out

    def _owner_ref(self, kind: str, ns: str, name: str, api: str | None = None) -> list[Obj]:
        rt = self.types[kind]
        owner = self.store.peek(rt, ns, name)
        if owner is None:
            return []
        return [{"apiVersion": api or rt.api_version, "kind": kind, "name": name, "uid": owner["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}]

    def _ref(self, group: str, kind: str, name: str, ns: str, version: str = "v1beta2") -> Obj:
        if self.v == "v1beta1":
            return {"apiVersion": f"{group}/{version}", "kind": kind, "name": name, "namespace": ns}
        return {"apiGroup": group, "kind": kind, "name": name}

    # ---- Machines and MachineSets ------------------------------------------------------------------------
    def _machine(self, m: SimMachine) -> Obj:
        labels = {LABEL_CLUSTER: m.cluster}
        if m.owner_kind == "KubeadmControlPlane":
            labels.update({LABEL_CP: "", LABEL_CP_NAME: m.owner})
            owner = self._owner_ref("KubeadmControlPlane", m.namespace, m.owner)
        else:
            s = self.c.machinesets.get((m.namespace, m.owner))
            labels.update({LABEL_MD: m.deployment or "", LABEL_MS: m.owner, LABEL_HASH: s.hash if s else ""})
            owner = self._owner_ref("MachineSet", m.namespace, m.owner)
        infra_kind = m.template_kind.removesuffix("Template")
        spec: Obj = {"clusterName": m.cluster, "bootstrap": {"dataSecretName": m.name},
                     "infrastructureRef": self._ref(m.infra_group, infra_kind, m.name, m.namespace), "version": m.version}
        ready, failed, phase = m.ready(self.t), m.failed(self.t), m.phase(self.t)
        if ready:
            spec["providerID"] = f"emulated://{m.namespace}/{m.name}"
        who = ("Machine", m.namespace, m.name)
        if self.v == "v1beta1":
            # NodeHealthy: v1beta1 MachineNodeHealthyCondition (kubernetes-sigs/cluster-api api/v1beta1
            # condition_consts.go), True once the Node is up (NodeProvisioning while it is not)
            status: Obj = {"phase": phase, "bootstrapReady": True, "infrastructureReady": ready,
                           "conditions": [self._cond1(who, "Ready", ready, "WaitingForInfrastructure"),
                                          self._cond1(who, "NodeHealthy", ready, "NodeProvisioning")]}
            if ready:
                status["nodeRef"] = {"apiVersion": "v1", "kind": "Node", "name": m.name}
            if failed:
                status.update(failureReason="CreateError", failureMessage=m.failure or "failed")
            status["v1beta2"] = {"conditions": [self._cond2(who, "Available", ready, "Available" if ready else
                                                            "NotAvailable")]}
        else:
            status = {"phase": phase, "initialization": {"bootstrapDataSecretCreated": True,
                                                         "infrastructureProvisioned": ready},
                      # NodeReady / NodeHealthy: known condition types of the v1beta2 Machine CRD
                      "conditions": [self._cond2(who, "Available", ready, "Available" if ready else "NotAvailable"),
                                     self._cond2(who, "Ready", ready, "Ready" if ready else "NotReady"),
                                     self._cond2(who, "NodeReady", ready, "NodeReady" if ready else "NodeNotReady"),
                                     self._cond2(who, "NodeHealthy", ready, "NodeHealthy" if ready
                                                 else "NodeNotHealthy")]}
            if ready:
                status["nodeRef"] = {"name": m.name}
            if failed:
                status["deprecated"] = {"v1beta1": {"failureReason": "CreateError",
                                                    "failureMessage": m.failure or "failed"}}
        if m.deleting_since is not None:
            status["deletion"] = {"nodeDrainStartTime": iso(m.deleting_since)}
        return {"apiVersion": f"{CAPI}/{self.v}", "kind": "Machine",
                "metadata": {"name": m.name, "namespace": m.namespace, "labels": labels, "ownerReferences": owner},
                "spec": spec, "status": status}

    def _machineset(self, s: SimMachineSet) -> Obj:
        labels = {LABEL_CLUSTER: s.cluster, LABEL_MD: s.deployment, LABEL_HASH: s.hash}
        tmpl = {"metadata": {**(s.template.get("metadata") or {})}, "spec": s.template.get("spec", {})}
        tmpl["metadata"]["labels"] = {**(tmpl["metadata"].get("labels") or {}), **labels}
        spec: Obj = {"clusterName": s.cluster, "replicas": s.replicas,
                     "selector": {"matchLabels": {LABEL_CLUSTER: s.cluster, LABEL_HASH: s.hash}}, "template": tmpl}
        machines = self.c._set_machines(s, active_only=False)
        ready = sum(1 for m in machines if m.ready(self.t))
        md = self.store.peek(self.types["MachineDeployment"], s.namespace, s.deployment)
        min_ready = self.c._md_min_ready(md) if md else 0
        available = sum(1 for m in machines if m.available(self.t, min_ready))
        status: Obj = {"replicas": len(machines), "readyReplicas": ready, "availableReplicas": available,
                       "selector": f"{LABEL_CLUSTER}={s.cluster},{LABEL_HASH}={s.hash}"}
        if self.v == "v1beta1":
            status["fullyLabeledReplicas"] = len(machines)
            status["v1beta2"] = {"readyReplicas": ready, "availableReplicas": available,
                                 "upToDateReplicas": len(machines)}
        else:
            status["upToDateReplicas"] = len(machines)
        return {"apiVersion": f"{CAPI}/{self.v}", "kind": "MachineSet",
                "metadata": {"name": s.name, "namespace": s.namespace, "labels": labels,
                             "ownerReferences": self._owner_ref("MachineDeployment", s.namespace, s.deployment)},
                "spec": spec, "status": status}

    # ---- statuses ----------------------------------------------------------------------------------------
    def _kcp_status(self, kcp: Obj) -> Obj:
        ns, name = kcp["metadata"]["namespace"], kcp["metadata"]["name"]
        who = ("KubeadmControlPlane", ns, name)
        replicas = kcp["spec"].get("replicas", 1)
        machines = self.c._kcp_machines(ns, name)
        active = [m for m in machines if m.deleting_since is None]
        ready = sum(1 for m in active if m.ready(self.t))
        uptodate = sum(1 for m in active if self.c._kcp_uptodate(kcp, m))
        lowest = min((m.version for m in machines), key=version_key, default=None)
        rolling = uptodate < replicas or len(machines) != replicas
        msg = f"Rolling {len(machines)} replicas with outdated spec ({uptodate} replicas up to date)" if rolling else ""
        status: Obj = {"selector": f"{LABEL_CLUSTER}={self.c._cluster_name(kcp)},{LABEL_CP}",
                       "replicas": len(machines), "readyReplicas": ready}
        if lowest:
            status["version"] = lowest
        if self.v == "v1beta1":
            status.update(updatedReplicas=uptodate, unavailableReplicas=len(machines) - ready, initialized=True,
                          ready=ready > 0)
            # EtcdClusterHealthy / ControlPlaneComponentsHealthy: v1beta1 KCP conditions (kubernetes-sigs/cluster-api
            # controlplane/kubeadm/api/v1beta1 condition_consts.go); healthy unless a test forces them False
            status["conditions"] = [
                self._cond1(who, "Ready", ready >= replicas, "ScalingUp"),
                self._cond1(who, "MachinesSpecUpToDate", not rolling, "RollingUpdateInProgress", msg),
                self._cond1(who, "EtcdClusterHealthy", True, "EtcdClusterUnhealthy"),
                self._cond1(who, "ControlPlaneComponentsHealthy", True, "ControlPlaneComponentsUnhealthy")]
            status["v1beta2"] = {"readyReplicas": ready, "availableReplicas": ready, "upToDateReplicas": uptodate,
                                 "conditions": [self._cond2(who, "RollingOut", rolling, "RollingOut" if rolling
                                                            else "NotRollingOut", msg)]}
        else:
            status.update(availableReplicas=ready, upToDateReplicas=uptodate,
                          initialization={"controlPlaneInitialized": True})
            status["conditions"] = [
                self._cond2(who, "Available", ready > replicas // 2, "Available" if ready > replicas // 2
                            else "NotAvailable"),
                self._cond2(who, "RollingOut", rolling, "RollingOut" if rolling else "NotRollingOut", msg),
                # EtcdClusterAvailable / MachinesReady: known condition types of the v1beta2 KCP CRD
                self._cond2(who, "EtcdClusterAvailable", True, "Available"),
                self._cond2(who, "MachinesReady", ready >= len(active), "Ready" if ready >= len(active) else "NotReady")]
            status["deprecated"] = {"v1beta1": {"readyReplicas": ready, "updatedReplicas": uptodate,
                                                "unavailableReplicas": len(machines) - ready, "conditions": [
                                                    self._cond1(who, "EtcdClusterHealthy", True, "EtcdClusterUnhealthy"),
                                                    self._cond1(who, "ControlPlaneComponentsHealthy", True,
                                                                "ControlPlaneComponentsUnhealthy")]}}
        return status

    def _md_counts(self, md: Obj) -> dict[str, int]:
        ns, name = md["metadata"]["namespace"], md["metadata"]["name"]
        h, min_ready = self.c._md_hash(md), self.c._md_min_ready(md)
        machines = [m for s in self.c._sets(ns, name) for m in self.c._set_machines(s, active_only=False)]
        active = [m for m in machines if m.deleting_since is None]
        return {"replicas": len(machines),
                "upToDate": sum(1 for m in active if self.c.machinesets[(ns, m.owner)].hash == h),
                "ready": sum(1 for m in active if m.ready(self.t)),
                "available": sum(1 for m in active if m.available(self.t, min_ready))}

    def _md_status(self, md: Obj) -> Obj:
        ns, name = md["metadata"]["namespace"], md["metadata"]["name"]
        who = ("MachineDeployment", ns, name)
        want = md["spec"].get("replicas", 1)
        n = self._md_counts(md)
        phase = "ScalingUp" if n["replicas"] < want else "ScalingDown" if n["replicas"] > want else "Running"
        sel = ",".join(f"{k}={v}" for k, v in sorted((md["spec"]["selector"].get("matchLabels") or {}).items()))
        rolling = n["upToDate"] < want or n["replicas"] != want
        status: Obj = {"selector": sel, "replicas": n["replicas"], "readyReplicas": n["ready"],
                       "availableReplicas": n["available"], "phase": phase}
        if self.v == "v1beta1":
            status.update(updatedReplicas=n["upToDate"], unavailableReplicas=max(0, want - n["available"]))
            status["conditions"] = [self._cond1(who, "Ready", n["available"] >= want, "WaitingForAvailableMachines"),
                                    self._cond1(who, "Available", n["available"] >= want, "WaitingForAvailableMachines")]
            status["v1beta2"] = {"readyReplicas": n["ready"], "availableReplicas": n["available"],
                                 "upToDateReplicas": n["upToDate"],
                                 "conditions": [self._cond2(who, "RollingOut", rolling, "RollingOut" if rolling
                                                            else "NotRollingOut")]}
        else:
            status["upToDateReplicas"] = n["upToDate"]
            status["conditions"] = [
                self._cond2(who, "Available", n["available"] >= want, "Available" if n["available"] >= want
                            else "NotAvailable"),
                self._cond2(who, "RollingOut", rolling, "RollingOut" if rolling else "NotRollingOut")]
            status["deprecated"] = {"v1beta1": {"updatedReplicas": n["upToDate"], "readyReplicas": n["ready"],
                                                "availableReplicas": n["available"],
                                                "unavailableReplicas": max(0, want - n["available"])}}
        return status

    def _cluster_status(self, c: Obj) -> Obj:
        ns, name = c["metadata"]["namespace"], c["metadata"]["name"]
        who = ("Cluster", ns, name)
        kcp = self.store.peek(self.types["KubeadmControlPlane"], ns, (c["spec"].get("controlPlaneRef") or {}).get("name", ""))
        mds = self.store.peek_list(self.types["MachineDeployment"], ns, f"{LABEL_CLUSTER}={name}")
        topo = c["spec"].get("topology")
        reason, msg = "ReconcileSucceeded", ""
        if topo:
            v = topo["version"]
            err = self.c.topology_errors.get((ns, name))
            if err:
                reason, msg = "TopologyReconcileFailed", err
            elif kcp is not None and (kcp["spec"]["version"] != v or not self.c.kcp_settled(kcp)):
                reason, msg = "ControlPlaneUpgradePending", f"Control plane rollout and upgrade to version {v} on hold."
            elif any(m["spec"]["template"]["spec"].get("version") != v or not self.c.md_settled(m) for m in mds):
                reason, msg = "MachineDeploymentsUpgradePending", f"MachineDeployments upgrade to version {v} on hold."
        ok = reason == "ReconcileSucceeded"
        cp_ready = bool(kcp and (kcp.get("status") or {}).get("readyReplicas"))
        if self.v == "v1beta1":
            status: Obj = {"phase": "Provisioned", "infrastructureReady": True, "controlPlaneReady": cp_ready,
                           "conditions": [self._cond1(who, "Ready", cp_ready, "WaitingForControlPlane")]}
            if topo:
                status["conditions"].append(self._cond1(who, "TopologyReconciled", ok, reason, msg))
            return status
        counts = [self._md_counts(m) for m in mds]
        workers = {k: sum(x[src] for x in counts) for k, src in
                   (("replicas", "replicas"), ("upToDateReplicas", "upToDate"), ("readyReplicas", "ready"),
                    ("availableReplicas", "available"))}
        workers["desiredReplicas"] = sum(m["spec"].get("replicas", 1) for m in mds)
        status = {"phase": "Provisioned", "initialization": {"infrastructureProvisioned": True,
                                                             "controlPlaneInitialized": cp_ready},
                  "workers": workers, "conditions": [self._cond2(who, "Available", cp_ready, "Available" if cp_ready
                                                                 else "NotAvailable")]}
        if kcp is not None:
            ks = kcp.get("status") or {}
            status["controlPlane"] = {"desiredReplicas": kcp["spec"].get("replicas", 1),
                                      **{k: ks.get(k, 0) for k in ("replicas", "upToDateReplicas", "readyReplicas",
                                                                   "availableReplicas")}}
        if topo:
            status["conditions"].append(self._cond2(who, "TopologyReconciled", ok, reason, msg))
        return status
