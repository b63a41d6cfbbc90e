"""Contract-suite harness for the Cluster API provider: one emulated management cluster (CapiEmulator) with a
bearer token, reached through a kubeconfig file the harness writes; OCI-flavoured clusters."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import yaml

from fleet.clock import FakeClock
from providers.capi.adapter import CapiProvider
from providers.capi.emulator.server import CapiEmulator

TOKEN = "capi-harness-token"


def oci_image(version: str) -> str:
    return f"ocid1.image.oc1.phx.k8s-{version.lstrip('v').replace('.', '-')}"


def write_kubeconfig(path: Path, contexts: dict[str, str], token: str = TOKEN) -> None:
    """A kubeconfig with one context (and cluster) per ``name -> server URL``."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": next(iter(contexts)),
           "clusters": [{"name": n, "cluster": {"server": url}} for n, url in contexts.items()],
           "users": [{"name": "fleet", "user": {"token": token}}],
           "contexts": [{"name": n, "context": {"cluster": n, "user": "fleet"}} for n in contexts]}
    path.write_text(yaml.safe_dump(doc))


class CapiHarness:
    type = "capi"

    def __init__(self, capi_version: str = "v1beta2", infra_kind: str = "OCIMachineTemplate"):
        self.clock = FakeClock()
        self.capi_version = capi_version
        self.infra_kind = infra_kind
        self.emu = CapiEmulator(self.clock, capi_version=capi_version, token=TOKEN)
        self.tmp = Path(tempfile.mkdtemp(prefix="capi-harness-"))
        self.kubeconfig = self.tmp / "kubeconfig"
        self.available: set[str] = set()

    def start(self) -> None:
        self.emu.start()
        write_kubeconfig(self.kubeconfig, {"mgmt": self.emu.url})

    def stop(self) -> None:
        self.emu.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def settings(self, **extra: object) -> dict[str, object]:
        images = {v: oci_image(v) for v in sorted(self.available)}
        return {"managementClusters": [{"kubeconfig": str(self.kubeconfig), "context": "mgmt"}],
                "images": {self.infra_kind: images}, "requestTimeoutSeconds": 5, **extra}

    def provider(self) -> CapiProvider:
        return CapiProvider("capi", self.settings(), clock=self.clock)

    def seed(self, name, control_plane, pools, available):
        self.available |= set(available)
        self.emu.add_cluster(name, control_plane, pools={p: (v, 3) for p, v in pools.items()},
                             infra_kind=self.infra_kind, image=None)
        return f"capi/mgmt/default/{name}"

    def finish_operations(self) -> None:
        for _ in range(12):                 # rollouts take minutes of virtual time per Machine
            self.clock.advance(timedelta(minutes=30))
            self.emu.tick()

    def upgrade_calls(self, cluster_id: str) -> int:
        return self.emu.upgrade_calls(cluster_id.rsplit("/", 1)[-1])

    def inject(self, fault: str) -> None:
        self.emu.inject("machine-fails" if fault == "fail-operation" else fault)

    def versions(self) -> tuple[str, str, str]:
        return ("v1.29.2", "v1.29.8", "v1.30.4")


def make_harness() -> CapiHarness:
    return CapiHarness()
