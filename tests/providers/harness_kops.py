"""The kops harness: the kops emulator (moto S3 + an emulated ``kops`` first on PATH) driven by KopsProvider
under a FakeClock that the adapter exports to kops (``exportClock``) (see harness.py)."""

from __future__ import annotations

from typing import Any

from providers.kops.emulator.kit import CONTROL_PLANE_IG
from tests.providers.harness import KitHarness

__all__ = ["CONTROL_PLANE_IG", "KopsHarness", "make_harness"]


class KopsHarness(KitHarness):
    def __init__(self, **emulator_options: Any) -> None:
        super().__init__("kops", **emulator_options)

    @property
    def emu(self) -> Any:
        return self.emulator


def make_harness() -> KopsHarness:
    return KopsHarness()
