"""The AKS harness: the ARM emulator (providers/aks/emulator/server.py) on 127.0.0.1 + AksProvider."""

from __future__ import annotations

from tests.providers.harness import KitHarness

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
RESOURCE_GROUP = "rg-fleet"
LOCATION = "westeurope"


class AksHarness(KitHarness):
    def __init__(self) -> None:
        super().__init__("aks", subscription=SUBSCRIPTION, resource_group=RESOURCE_GROUP, location=LOCATION)


def make_harness() -> AksHarness:
    return AksHarness()
