"""Seed an emulated management cluster with workload clusters, the way ``clusterctl generate cluster | kubectl
apply`` plus a finished provisioning would leave it: Cluster, KubeadmControlPlane, MachineDeployments,
infrastructure machine templates (validated like any other write), and ready Machines."""

from __future__ import annotations

from typing import Any, Protocol

from providers.capi.emulator.controllers import (
    LABEL_CLUSTER,
    LABEL_MD,
    LABEL_TOPO_MD,
    Controllers,
    SimMachineSet,
)
from providers.capi.emulator.schema import ResourceType
from providers.capi.emulator.store import ObjectStore


class SeedTarget(Protocol):
    """What seeding needs of an emulated management cluster (server.CapiEmulator)."""

    capi_version: str
    infra_version: str
    types: dict[str, ResourceType]
    store: ObjectStore
    ctrl: Controllers

CAPI = "cluster.x-k8s.io"
CP = "controlplane.cluster.x-k8s.io"
INFRA = "infrastructure.cluster.x-k8s.io"
BOOTSTRAP = "bootstrap.cluster.x-k8s.io"


def default_image(kind: str, version: str) -> str:
    slug = version.lstrip("v").replace(".", "-")
    if kind == "OCIMachineTemplate":
        return f"ocid1.image.oc1.phx.seed-k8s-{slug}"
    return f"kindest/node:{version}"


def template_spec(kind: str, image: str) -> dict[str, Any]:
    if kind == "OCIMachineTemplate":
        return {"imageId": image, "shape": "VM.Standard.E4.Flex", "bootVolumeSizeInGBs": "50",
                "shapeConfig": {"ocpus": "2", "memoryInGBs": "16"}, "isPvEncryptionInTransitEnabled": True}
    if kind == "DevMachineTemplate":
        return {"backend": {"docker": {"customImage": image}}}
    if kind == "ByoMachineTemplate":
        # BYOH: no image; the installer (K8sInstallerConfigTemplate ``byoh-installer``) fetches the bundle of the
        # Machine's Kubernetes version (BYOH installer/bundle_downloader.go GetBundleAddr)
        return {"installerRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                                 "kind": "K8sInstallerConfigTemplate", "name": "byoh-installer"}}
    raise ValueError(f"no seed template for {kind}")


def _ref(emu: SeedTarget, group: str, version: str, kind: str, name: str, ns: str) -> dict[str, Any]:
    if emu.capi_version == "v1beta1":
        return {"apiVersion": f"{group}/{version}", "kind": kind, "name": name, "namespace": ns}
    return {"apiGroup": group, "kind": kind, "name": name}


def add_cluster(emu: SeedTarget, name: str, version: str = "v1.29.2", *, namespace: str = "default",
                cp_replicas: int = 3, pools: dict[str, int | tuple[str, int]] | None = None,
                infra_kind: str = "OCIMachineTemplate", image: str | None = None, topology: bool = False,
                cluster_class: str = "quick-start", labels: dict[str, str] | None = None,
                annotations: dict[str, str] | None = None, md_annotations: dict[str, dict[str, str]] | None = None,
                kcp_max_surge: int | None = None, paused: bool = False,
                class_versions: list[str] | None = None) -> dict[str, Any]:
    """Create a cluster. ``pools``: MachineDeployment name -> replicas or (version, replicas) (default
    ``{"md-0": 3}``); ``topology``: a ClusterClass-managed cluster (MachineDeployments named
    ``<cluster>-<pool>``); ``md_annotations``: per pool, e.g. the topology hold/defer annotations;
    ``class_versions``: create (or replace) the ClusterClass with this ``spec.kubernetesVersions``."""
    v, ns, ctrl = emu.capi_version, namespace, emu.ctrl
    iv = emu.infra_version
    pools = {"md-0": 3} if pools is None else pools
    t = emu.types
    kcp_name = f"{name}-control-plane"

    def create(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        rt = t[kind]
        obj = {"apiVersion": rt.api_version, "kind": kind, **obj}
        obj["metadata"] = {"namespace": ns, **obj["metadata"]}
        out, _ = emu.store.create(rt, ns, obj)
        return out

    if infra_kind == "ByoMachineTemplate" and emu.store.find(t["K8sInstallerConfigTemplate"], ns,
                                                             "byoh-installer") is None:
        # the installer template of BYOH's cluster templates (test/e2e/data/infrastructure-provider-byoh)
        create("K8sInstallerConfigTemplate", {"metadata": {"name": "byoh-installer"}, "spec": {"template": {"spec": {
            "bundleRepo": "projects.registry.vmware.com/cluster_api_provider_bringyourownhost", "bundleType": "k8s"}}}})

    def template(tname: str, ver: str) -> None:
        create(infra_kind, {"metadata": {"name": tname, "labels": {LABEL_CLUSTER: name}},
                            "spec": {"template": {"spec": template_spec(infra_kind, image or default_image(infra_kind, ver))}}})

    # Cluster
    cspec: dict[str, Any] = {
        "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}},
        "controlPlaneRef": _ref(emu, CP, v, "KubeadmControlPlane", kcp_name, ns),
        "infrastructureRef": _ref(emu, INFRA, iv, infra_kind.removesuffix("MachineTemplate") + "Cluster", name, ns)}
    if paused:
        cspec["paused"] = True
    if topology:
        cspec["topology"] = _topology_spec(v, version, cp_replicas, pools, cluster_class, md_annotations)
        if class_versions is not None:
            set_class_versions(emu, cluster_class, class_versions, namespace=ns)
    cluster = create("Cluster", {"metadata": {"name": name, "labels": {**(labels or {})},
                                              "annotations": {**(annotations or {})}}, "spec": cspec})
    owner = [{"apiVersion": cluster["apiVersion"], "kind": "Cluster", "name": name,
              "uid": cluster["metadata"]["uid"]}]

    # control plane
    template(kcp_name, version)
    kspec = _kcp_spec(v, version, cp_replicas, _ref(emu, INFRA, t[infra_kind].version, infra_kind, kcp_name, ns),
                      kcp_max_surge)
    kcp = create("KubeadmControlPlane", {"metadata": {"name": kcp_name, "labels": {LABEL_CLUSTER: name},
                                                      "ownerReferences": owner}, "spec": kspec})
    for _ in range(cp_replicas):
        ctrl.create_machine(ns, name, "KubeadmControlPlane", kcp_name, None, version, (INFRA, infra_kind, kcp_name),
                            ready=True)
    ctrl.mark_observed("KubeadmControlPlane", ns, kcp_name, kcp["metadata"]["generation"])

    # workers
    for pool, spec in pools.items():
        pv = spec[0] if isinstance(spec, tuple) else version
        md_name = f"{name}-{pool}" if topology else pool
        tname = f"{name}-{pool}"
        template(tname, pv)
        sel = {LABEL_CLUSTER: name, LABEL_MD: md_name}
        md_labels = {LABEL_CLUSTER: name, **({"topology.cluster.x-k8s.io/owned": "", LABEL_TOPO_MD: pool}
                                             if topology else {})}
        tmpl_spec = {"clusterName": name, "version": pv,
                     "bootstrap": {"configRef": _ref(emu, BOOTSTRAP, "v1beta1" if v == "v1beta1" else "v1beta2",
                                                     "KubeadmConfigTemplate", tname, ns)},
                     "infrastructureRef": _ref(emu, INFRA, t[infra_kind].version, infra_kind, tname, ns)}
        mspec: dict[str, Any] = {"clusterName": name, "replicas": _replicas(spec), "selector": {"matchLabels": sel},
                                 "template": {"metadata": {"labels": dict(sel)}, "spec": tmpl_spec}}
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        if v == "v1beta1":
            mspec["strategy"] = strategy
        else:
            mspec["rollout"] = {"strategy": strategy}
        ann = (md_annotations or {}).get(pool) if not topology else None
        md = create("MachineDeployment", {"metadata": {"name": md_name, "labels": md_labels, "ownerReferences": owner,
                                                       **({"annotations": ann} if ann else {})}, "spec": mspec})
        h = ctrl._md_hash(md)
        ms = SimMachineSet(f"{md_name}-{h[:5]}", ns, name, md_name, h, md["spec"]["template"], created=ctrl.t,
                           replicas=_replicas(spec))
        ctrl.machinesets[(ns, ms.name)] = ms
        for _ in range(ms.replicas):
            ctrl.create_machine(ns, name, "MachineSet", ms.name, md_name, pv, (INFRA, infra_kind, tname), ready=True)
        ctrl.mark_observed("MachineDeployment", ns, md_name, md["metadata"]["generation"])
    ctrl.mark_observed("Cluster", ns, name, cluster["metadata"]["generation"])
    ctrl.advance()
    return emu.store.get(t["Cluster"], ns, name)


def set_class_versions(emu: SeedTarget, name: str, versions: list[str], *, namespace: str = "default") -> None:
    """Create or replace ClusterClass ``name`` with ``spec.kubernetesVersions`` (the rest of its spec is not
    modelled)."""
    rt = emu.types["ClusterClass"]
    cur = emu.store.find(rt, namespace, name)
    if cur is None:
        emu.store.create(rt, namespace, {"apiVersion": rt.api_version, "kind": "ClusterClass",
                                         "metadata": {"name": name, "namespace": namespace},
                                         "spec": {"kubernetesVersions": list(versions)}})
    else:
        cur["spec"] = {**(cur.get("spec") or {}), "kubernetesVersions": list(versions)}
        emu.store.update(rt, namespace, name, cur)


def _topology_spec(v: str, version: str, cp_replicas: int, pools: dict[str, int | tuple[str, int]],
                   cluster_class: str, md_annotations: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    """``spec.topology`` of a ClusterClass-managed cluster."""
    mds = [{"class": "default-worker", "name": p, "replicas": _replicas(spec),
            **({"metadata": {"annotations": md_annotations[p]}} if md_annotations and p in md_annotations else {})}
           for p, spec in pools.items()]
    topology: dict[str, Any] = {"version": version, "controlPlane": {"replicas": cp_replicas},
                                "workers": {"machineDeployments": mds}}
    if v == "v1beta1":
        topology["class"] = cluster_class
    else:
        topology["classRef"] = {"name": cluster_class}
    return topology


def _kcp_spec(v: str, version: str, cp_replicas: int, infra_ref: dict[str, Any],
              kcp_max_surge: int | None) -> dict[str, Any]:
    """``spec`` of the KubeadmControlPlane, in the layout of CAPI ``v``."""
    kspec: dict[str, Any] = {"replicas": cp_replicas, "version": version, "kubeadmConfigSpec": {"format": "cloud-config"}}
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": kcp_max_surge}}
    if v == "v1beta1":
        kspec["machineTemplate"] = {"infrastructureRef": infra_ref}
        if kcp_max_surge is not None:
            kspec["rolloutStrategy"] = strategy
    else:
        kspec["machineTemplate"] = {"spec": {"infrastructureRef": infra_ref}}
        if kcp_max_surge is not None:
            kspec["rollout"] = {"strategy": strategy}
    return kspec


def _replicas(spec: int | tuple[str, int]) -> int:
    return spec[1] if isinstance(spec, tuple) else spec
