"""The Cluster API harness: one emulated management cluster (CapiEmulator) with a bearer token, reached
through a kubeconfig file the emulator kit writes; OCI-flavoured clusters by default (see harness.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fleet.clock import FakeClock
from providers.capi.emulator.kit import TOKEN, oci_image, write_kubeconfig
from providers.capi.emulator.server import CapiEmulator
from tests.providers.harness import KitHarness

__all__ = ["TOKEN", "CapiHarness", "make_harness", "management_clusters", "oci_image", "write_kubeconfig"]


class CapiHarness(KitHarness):
    def __init__(self, capi_version: str = "v1beta2", infra_kind: str = "OCIMachineTemplate"):
        super().__init__("capi", capi_version=capi_version, infra_kind=infra_kind)
        self.capi_version, self.infra_kind = capi_version, infra_kind

    @property
    def emu(self) -> Any:
        return self.emulator


def make_harness() -> CapiHarness:
    return CapiHarness()


def management_clusters(contexts: dict[str, str], prefix: str) -> Iterator[tuple[FakeClock, dict[str, CapiEmulator],
                                                                               Path]]:
    """Body of a fixture: one emulated management cluster per kubeconfig context (context -> the Cluster API
    version it serves) on one clock, the kubeconfig in a fresh folder; yields (clock, emulators, folder)."""
    clock = FakeClock()
    emus = {name: CapiEmulator(clock, capi_version=v, token=TOKEN) for name, v in contexts.items()}
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    for e in emus.values():
        e.start()
    write_kubeconfig(tmp / "kubeconfig", {name: e.url for name, e in emus.items()})
    yield clock, emus, tmp
    for e in emus.values():
        e.stop()
    shutil.rmtree(tmp, ignore_errors=True)
