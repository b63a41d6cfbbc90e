"""The GKE harness: GkeEmulator on 127.0.0.1 + GkeProvider over the real SDK (REST) (see harness.py)."""

from __future__ import annotations

from tests.providers.harness import KitHarness

PROJECT = "fleet-test"
LOCATION = "europe-west1"


class GkeHarness(KitHarness):
    def __init__(self) -> None:
        super().__init__("gke", project=PROJECT, location=LOCATION)


def make_harness() -> GkeHarness:
    return GkeHarness()
