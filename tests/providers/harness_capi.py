"""The Cluster API harness: one emulated management cluster (CapiEmulator) with a bearer token, reached
through a kubeconfig file the emulator kit writes; OCI-flavoured clusters by default (see harness.py)."""

from __future__ import annotations

from typing import Any

from providers.capi.emulator.kit import TOKEN, oci_image, write_kubeconfig
from tests.providers.harness import KitHarness

__all__ = ["TOKEN", "CapiHarness", "make_harness", "oci_image", "write_kubeconfig"]


class CapiHarness(KitHarness):
    def __init__(self, capi_version: str = "v1beta2", infra_kind: str = "OCIMachineTemplate"):
        super().__init__("capi", capi_version=capi_version, infra_kind=infra_kind)
        self.capi_version, self.infra_kind = capi_version, infra_kind

    @property
    def emu(self) -> Any:
        return self.emulator


def make_harness() -> CapiHarness:
    return CapiHarness()
