"""Cluster API behind the one emulator interface (fleet.emulator.Emulator): one emulated management cluster
(CapiEmulator) with a bearer token, reached through a kubeconfig written into the directory."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from fleet.clock import Clock
from providers.capi.emulator.server import CapiEmulator
from providers.emulator_base import fake_clock

TOKEN = "capi-harness-token"        # the emulated management cluster's bearer token (not a secret)


def oci_image(version: str) -> str:
    return f"ocid1.image.oc1.phx.k8s-{version.lstrip('v').replace('.', '-')}"


def write_kubeconfig(path: Path, contexts: dict[str, str], token: str = TOKEN) -> None:
    """A kubeconfig with one context (and cluster) per ``name -> server URL``."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": next(iter(contexts)),
           "clusters": [{"name": n, "cluster": {"server": url}} for n, url in contexts.items()],
           "users": [{"name": "fleet", "user": {"token": token}}],
           "contexts": [{"name": n, "context": {"cluster": n, "user": "fleet"}} for n in contexts]}
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)


# flavour -> the managed control plane kind its clusters use (seed_pools); "machinepool": kubeadm clusters whose
# node pools are MachinePools (DevMachinePool); "kubeadm": KubeadmControlPlane + MachineDeployments
MANAGED_FLAVOURS = {"eks": "AWSManagedControlPlane", "oke": "OCIManagedControlPlane", "aks": "AzureManagedControlPlane",
                    "gke": "GCPManagedControlPlane"}


class CapiEmulatorKit:
    """``images``: infrastructure template kind -> version -> image for the adapter's settings; by default
    ``infra_kind`` with an OCI image for every version seeded so far. ``flavour``: kubeadm (default),
    machinepool, or a managed control plane (eks, oke, aks, gke; MANAGED_FLAVOURS)."""

    type = "capi"

    def __init__(self, clock: Clock, directory: Path, *, capi_version: str = "v1beta2",
                 infra_kind: str = "OCIMachineTemplate", token: str = TOKEN, context: str = "mgmt",
                 images: dict[str, dict[str, str]] | None = None, flavour: str = "kubeadm",
                 **emulator_options: Any) -> None:
        if flavour not in ("kubeadm", "machinepool", *MANAGED_FLAVOURS):
            raise ValueError(f"unknown flavour {flavour!r}")
        self.flavour = flavour
        self.clock = clock
        self.directory = directory
        self.capi_version, self.infra_kind, self.token, self.context = capi_version, infra_kind, token, context
        self.images = images
        self.emulator = CapiEmulator(clock, capi_version=capi_version, token=token, **emulator_options)
        self.kubeconfig = directory / "kubeconfig"
        self.available: set[str] = set()

    def start(self) -> None:
        self.emulator.start()
        write_kubeconfig(self.kubeconfig, {self.context: self.emulator.url}, self.token)

    def stop(self) -> None:
        self.emulator.stop()

    def adapter_settings(self) -> dict[str, Any]:
        images = self.images if self.images is not None else {
            self.infra_kind: {v: oci_image(v) for v in sorted(self.available)}}
        if self.flavour == "machinepool" and self.images is None:
            images["DevMachinePool"] = {v: f"kindest/node:{v}" for v in sorted(self.available)}
        out: dict[str, Any] = {"managementClusters": [{"kubeconfig": str(self.kubeconfig), "context": self.context}],
                               "images": images}
        if self.flavour in MANAGED_FLAVOURS:
            out["versions"] = {MANAGED_FLAVOURS[self.flavour]: sorted(self.available)}
        if self.infra_kind == "ByoMachineTemplate" and self.images is None:   # BYOH: bundles, not images
            out["images"] = {k: v for k, v in images.items() if k != self.infra_kind}
            out["versions"] = {self.infra_kind: sorted(self.available)}
        return out

    def adapter_context(self) -> dict[str, Any]:
        return {}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        self.available |= set(available)
        if self.flavour in MANAGED_FLAVOURS:
            self.emulator.add_managed_cluster(name, MANAGED_FLAVOURS[self.flavour], control_plane,
                                              pools={p: (v, 3) for p, v in pools.items()})
        elif self.flavour == "machinepool":
            self.emulator.add_cluster(name, control_plane, pools={}, infra_kind=self.infra_kind, image=None)
            for p, v in pools.items():
                self.emulator.add_machine_pool(name, p, v, "DevMachinePool")
        else:
            self.emulator.add_cluster(name, control_plane, pools={p: (v, 3) for p, v in pools.items()},
                                      infra_kind=self.infra_kind, image=None)
        return f"capi/{self.context}/default/{name}"

    def finish_operations(self) -> None:
        clock = fake_clock(self.clock)
        for _ in range(12):                 # rollouts take minutes of virtual time per Machine
            clock.advance(timedelta(minutes=30))
            self.emulator.tick()

    def upgrade_calls(self, cluster_id: str) -> int:
        # an OKE pool step writes the version twice (OCIManagedMachinePool and MachinePool): one upgrade
        name = cluster_id.rsplit("/", 1)[-1]
        return sum(1 for u in self.emulator.upgrade_log if u.cluster == name and u.kind != "OCIManagedMachinePool")

    def inject(self, fault: str) -> None:
        if fault == "fail-operation" and self.flavour in MANAGED_FLAVOURS:
            self.emulator.pools.fail_next = True
            return
        self.emulator.inject("machine-fails" if fault == "fail-operation" else fault)

    def versions(self) -> tuple[str, str, str]:
        return ("v1.29.2", "v1.29.8", "v1.30.4")
