"""`fleet apply --config` (the installed command) against ONE emulated Cluster API management cluster holding
a kubeadm cluster (KubeadmControlPlane + a MachineDeployment + a MachinePool on DevMachinePool), an EKS cluster
(CAPA AWSManagedControlPlane + AWSManagedMachinePool), an OKE cluster (CAPOCI OCIManagedControlPlane +
OCIManagedMachinePool), an AKS cluster (CAPZ), a GKE cluster (CAPG) and a bring-your-own-host cluster
(ByoMachineTemplate + K8sInstallerConfigTemplate), all going 1.29 -> 1.30 -> 1.31 under
one policy (docs/providers/capi.md, policies/capi/capi-mixed.yaml)."""

from __future__ import annotations

import pytest

from fleet.clock import ScaledClock, SystemClock
from providers.capi.emulator.controllers import Timings
from providers.capi.emulator.server import CapiEmulator
from tests.integration.cloudfleet2 import (
    apply,
    dispatched_steps,
    history,
    run_clusters,
    status,
    write_cloud_fleet,
)
from tests.providers.harness_capi import TOKEN, oci_image, write_kubeconfig

VERSIONS = ["v1.29.6", "v1.30.4", "v1.31.1"]
MANAGED = {"eks": "AWSManagedControlPlane", "oke": "OCIManagedControlPlane", "aks": "AzureManagedControlPlane",
           "gke": "GCPManagedControlPlane"}


@pytest.mark.parametrize("capi_version", ["v1beta2", "v1beta1"])
def test_kubeadm_eks_oke_aks_gke_clusters_upgrade_under_one_policy(tmp_path, capi_version):
    clock = ScaledClock(SystemClock().now(), 60.0)
    emu = CapiEmulator(clock, capi_version=capi_version, token=TOKEN,
                       timings=Timings(controller_delay=1.0, provision=12.0, delete=3.0))
    emu.pools.pt.cp_upgrade = 30.0                   # one managed control-plane update: 30 simulated seconds
    try:
        emu.start()
        emu.add_cluster("kubeadm", "v1.29.6", cp_replicas=1, pools={"md-0": 2})
        emu.add_machine_pool("kubeadm", "mp-0", "v1.29.6", "DevMachinePool", replicas=2)
        emu.add_cluster("byoh", "v1.29.6", cp_replicas=1, pools={"byoh-md": 2}, infra_kind="ByoMachineTemplate")
        for name, kind in MANAGED.items():
            emu.add_managed_cluster(name, kind, "v1.29.6", pools={f"{name}-pool": ("v1.29.6", 3)})
        write_kubeconfig(tmp_path / "mgmt.kubeconfig", {"mgmt": emu.url})
        settings = {"managementClusters": [{"kubeconfig": "mgmt.kubeconfig", "context": "mgmt"}],
                    "images": {"OCIMachineTemplate": {v: oci_image(v) for v in VERSIONS},
                               "DevMachinePool": {v: f"kindest/node:{v}" for v in VERSIONS}},
                    "versions": {**{kind: VERSIONS for kind in MANAGED.values()}, "ByoMachineTemplate": VERSIONS},
                    "requestTimeoutSeconds": 5, "pollIntervalSeconds": 1}
        cfg = write_cloud_fleet(tmp_path, provider="capi", ptype="capi", settings=settings, target="1.31",
                                node_pools={"maxSurge": 1, "maxUnavailable": 2}, concurrency=5)
        r = apply(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        st = status(cfg)
        assert [x["status"] for x in st["runs"]] == ["done"] and st["openSteps"] == []
        members = run_clusters(st)
        for name in ["kubeadm", "byoh", *MANAGED]:
            cid = f"capi/mgmt/default/{name}"
            assert members[cid]["status"] == "done", members[cid]
            pools = {"kubeadm": ["md-0", "mp-0"], "byoh": ["byoh-md"]}.get(name, [f"{name}-pool"])
            steps = dispatched_steps(history(cfg, cid))
            for v in VERSIONS[1:]:
                assert f"cp@{v}" in steps and all(f"pool:{p}@{v}" in steps for p in pools), steps
            assert steps.index("cp@v1.30.4") < steps.index("cp@v1.31.1")
        # each control plane asked for each minor once, through the object its provider reads
        for name, kind in MANAGED.items():
            log = [(u.kind, u.to_version) for u in emu.upgrade_log if u.cluster == name and u.kind == kind]
            assert log == [(kind, "v1.30.4"), (kind, "v1.31.1")], (name, log)
            cp = emu.get(kind, f"{name}-control-plane")
            status_version = cp["status"].get("currentVersion") or cp["status"]["version"]
            assert status_version.lstrip("v") == "1.31.1"
            mp = emu.get("MachinePool", f"{name}-pool")
            assert mp["spec"]["template"]["spec"]["version"] == "v1.31.1"
            assert mp["status"]["versions"] == [{"version": "v1.31.1", "replicas": 3}]
        # EKS: the policy's maxUnavailable 2 went into updateConfig, and the node group never had more down
        eks_pool = emu.get("AWSManagedMachinePool", "eks-pool")
        assert eks_pool["spec"]["updateConfig"] == {"maxUnavailable": 2}
        assert emu.budget("MachinePool", "eks-pool").max_unavailable == 2
        # OKE: the node pool's own version moved, with node cycling on (else OKE keeps the old nodes)
        oke_pool = emu.get("OCIManagedMachinePool", "oke-pool")
        assert oke_pool["spec"]["version"] == "v1.31.1"
        assert oke_pool["spec"]["nodePoolCyclingDetails"] == {"isNodeCyclingEnabled": True, "maximumSurge": "1",
                                                               "maximumUnavailable": "2"}
        # kubeadm MachinePool: DevMachinePool image patched in place, nodes at the new version
        assert emu.get("DevMachinePool", "mp-0")["spec"]["backend"]["docker"]["customImage"] == "kindest/node:v1.31.1"
        assert emu.get("MachinePool", "mp-0")["status"]["versions"] == [{"version": "v1.31.1", "replicas": 2}]
        # BYOH: no template copied (the version selects the installer bundle); every Machine at the new version
        byoh_templates = [t["metadata"]["name"] for t in emu.list("ByoMachineTemplate")]
        assert sorted(byoh_templates) == ["byoh-byoh-md", "byoh-control-plane"]
        kcp = emu.get("KubeadmControlPlane", "byoh-control-plane")
        assert kcp["spec"]["version"] == "v1.31.1"
        byoh_machines = [m for m in emu.machines() if m.cluster == "byoh"]
        assert len(byoh_machines) == 3 and {m.version for m in byoh_machines} == {"v1.31.1"}
    finally:
        emu.stop()
