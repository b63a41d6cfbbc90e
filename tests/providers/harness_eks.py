"""The EKS harness: EksEmulator (moto + upgrade routes) on 127.0.0.1, boto3 adapter (see harness.py)."""

from __future__ import annotations

from typing import Any

from providers.eks.emulator.kit import ami_releases
from tests.providers.harness import KitHarness

__all__ = ["PROFILE", "REGION", "EksHarness", "ami_releases", "make_harness"]

REGION = "us-east-1"
PROFILE = "fleet-test"


class EksHarness(KitHarness):
    def __init__(self, **emulator_options: Any) -> None:
        super().__init__("eks", **emulator_options)


def make_harness() -> EksHarness:
    return EksHarness()
