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


class CapiEmulatorKit:
    """``images``: infrastructure template kind -> version -> image for the adapter's settings; by default
    ``infra_kind`` with an OCI image for every version seeded so far."""

    type = "capi"

    def __init__(self, clock: Clock, directory: Path, *, capi_version: str = "v1beta2",
                 infra_kind: str = "OCIMachineTemplate", token: str = TOKEN, context: str = "mgmt",
                 images: dict[str, dict[str, str]] | None = None, **emulator_options: Any) -> None:
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
        return {"managementClusters": [{"kubeconfig": str(self.kubeconfig), "context": self.context}],
                "images": images}

    def adapter_context(self) -> dict[str, Any]:
        return {}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        self.available |= set(available)
        self.emulator.add_cluster(name, control_plane, pools={p: (v, 3) for p, v in pools.items()},
                                  infra_kind=self.infra_kind, image=None)
        return f"capi/{self.context}/default/{name}"

    def finish_operations(self) -> None:
        clock = fake_clock(self.clock)
        for _ in range(12):                 # rollouts take minutes of virtual time per Machine
            clock.advance(timedelta(minutes=30))
            self.emulator.tick()

    def upgrade_calls(self, cluster_id: str) -> int:
        return self.emulator.upgrade_calls(cluster_id.rsplit("/", 1)[-1])

    def inject(self, fault: str) -> None:
        self.emulator.inject("machine-fails" if fault == "fail-operation" else fault)

    def versions(self) -> tuple[str, str, str]:
        return ("v1.29.2", "v1.29.8", "v1.30.4")
