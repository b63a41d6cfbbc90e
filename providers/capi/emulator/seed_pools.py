"""Seed MachinePools and managed control planes, the way the providers' quick-start templates
(``clusterctl generate cluster --flavor eks-managedmachinepool`` for CAPA, ``managed`` for CAPOCI, ``aks`` for
CAPZ, ``gke`` for CAPG) plus a finished provisioning would leave them. Objects are validated like any write."""

from __future__ import annotations

from typing import Any

from providers.capi.emulator.controllers import LABEL_CLUSTER
from providers.capi.emulator.seed import BOOTSTRAP, CAPI, CP, INFRA, SeedTarget, _ref

# control plane kind -> (group, the Cluster's infrastructure kind, the spec written at creation)
CONTROL_PLANES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "AWSManagedControlPlane": (CP, "AWSManagedCluster", {"region": "us-west-2"}),
    "OCIManagedControlPlane": (INFRA, "OCIManagedCluster", {"clusterType": "ENHANCED_CLUSTER"}),
    "AzureManagedControlPlane": (INFRA, "AzureManagedCluster", {
        "location": "westeurope", "resourceGroupName": "rg-fleet",
        "identityRef": {"kind": "AzureClusterIdentity", "name": "cluster-identity"}}),
    "GCPManagedControlPlane": (INFRA, "GCPManagedCluster", {"location": "europe-west1", "project": "fleet-demo"}),
}
# the infrastructure machine pool each managed control plane uses
POOL_OF = {"AWSManagedControlPlane": "AWSManagedMachinePool", "OCIManagedControlPlane": "OCIManagedMachinePool",
           "AzureManagedControlPlane": "AzureManagedMachinePool", "GCPManagedControlPlane": "GCPManagedMachinePool"}


def _create(emu: SeedTarget, kind: str, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
    rt = emu.types[kind]
    obj = {"apiVersion": rt.api_version, "kind": kind, **obj}
    obj["metadata"] = {"namespace": ns, **obj["metadata"]}
    out, _ = emu.store.create(rt, ns, obj)
    return out


def infra_pool_spec(kind: str, name: str, version: str, replicas: int, image: str | None = None,
                    update: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec of an infrastructure machine pool as its quick-start template writes it."""
    if kind == "AWSManagedMachinePool":
        return {"eksNodegroupName": name, "scaling": {"minSize": 1, "maxSize": max(replicas * 2, 2)},
                "updateConfig": dict(update or {"maxUnavailable": 1})}
    if kind == "OCIManagedMachinePool":
        spec: dict[str, Any] = {"version": version, "nodeShape": "VM.Standard.E4.Flex"}
        if image:
            spec["nodeSourceViaImage"] = {"imageId": image}
        if update:
            spec["nodePoolCyclingDetails"] = dict(update)
        return spec
    if kind == "AzureManagedMachinePool":
        return {"mode": "System", "sku": "Standard_D2s_v3", "name": name.replace("-", "")[:12]}
    if kind == "GCPManagedMachinePool":
        return {"nodePoolName": name}
    if kind == "DevMachinePool":
        return {"backend": {"docker": {"customImage": image or f"kindest/node:{version}"}}}
    raise ValueError(f"no seed for infrastructure machine pool {kind}")


def add_machine_pool(emu: Any, cluster: str, name: str, version: str, infra_kind: str, *, namespace: str = "default",
                     replicas: int = 3, image: str | None = None, update: dict[str, Any] | None = None) -> dict[str, Any]:
    """A MachinePool ``name`` of ``cluster`` at ``version`` with ready nodes, backed by ``infra_kind``
    (``update``: AWSManagedMachinePool ``updateConfig`` / OCIManagedMachinePool ``nodePoolCyclingDetails``)."""
    v, ns = emu.capi_version, namespace
    irt = emu.types[infra_kind]
    infra = _create(emu, infra_kind, ns, {"metadata": {"name": name, "labels": {LABEL_CLUSTER: cluster}},
                                          "spec": infra_pool_spec(infra_kind, name, version, replicas, image, update)})
    bootstrap = ({"dataSecretName": ""} if infra_kind != "DevMachinePool" else
                 {"configRef": _ref(emu, BOOTSTRAP, "v1beta1" if v == "v1beta1" else "v1beta2", "KubeadmConfig",
                                    name, ns)})
    tspec = {"clusterName": cluster, "version": version, "bootstrap": bootstrap,
             "infrastructureRef": _ref(emu, INFRA, irt.version, infra_kind, name, ns)}
    mp = _create(emu, "MachinePool", ns, {
        "metadata": {"name": name, "labels": {LABEL_CLUSTER: cluster}},
        "spec": {"clusterName": cluster, "replicas": replicas, "template": {"spec": tspec}}})
    emu.pools.seed_pool(ns, name, mp["spec"]["template"]["spec"]["version"], replicas, emu.ctrl.t,
                        int(infra["metadata"].get("generation", 1)))
    return mp


def add_managed_cluster(emu: Any, name: str, control_plane: str, version: str, *, namespace: str = "default",
                        pools: dict[str, tuple[str, int]] | None = None, labels: dict[str, str] | None = None,
                        update: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Cluster whose control plane is ``control_plane`` at ``version`` and its MachinePools (``pools``:
    name -> (version, replicas), default ``{"<name>-pool-0": (version, 3)}``; ``update``: the pools' budget knobs)."""
    ns = namespace
    group, infra_kind, extra = CONTROL_PLANES[control_plane]
    cp_name = f"{name}-control-plane"
    cprt = emu.types[control_plane]
    cp_spec: dict[str, Any] = {**extra, "version": version}
    if control_plane == "AWSManagedControlPlane":
        cp_spec["eksClusterName"] = name
    cp = _create(emu, control_plane, ns, {"metadata": {"name": cp_name, "labels": {LABEL_CLUSTER: name}},
                                          "spec": cp_spec})
    emu.pools.seed_cp(control_plane, ns, cp_name, cp["spec"]["version"], emu.ctrl.t)
    cspec = {"clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}},
             "controlPlaneRef": _ref(emu, group, cprt.version, control_plane, cp_name, ns),
             "infrastructureRef": _ref(emu, INFRA, cprt.version, infra_kind, name, ns)}
    cluster = _create(emu, "Cluster", ns, {"metadata": {"name": name, "labels": dict(labels or {})}, "spec": cspec})
    emu.ctrl.mark_observed("Cluster", ns, name, cluster["metadata"]["generation"])
    for pool, (pv, replicas) in (pools if pools is not None else {f"{name}-pool-0": (version, 3)}).items():
        add_machine_pool(emu, name, pool, pv, POOL_OF[control_plane], namespace=ns, replicas=replicas, update=update)
    emu.ctrl.advance()
    return emu.store.get(emu.types["Cluster"], ns, name)


__all__ = ["CAPI", "CONTROL_PLANES", "POOL_OF", "add_machine_pool", "add_managed_cluster", "infra_pool_spec"]
