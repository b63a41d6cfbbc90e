"""Contract-suite harness for AKS: the ARM emulator (providers/aks/emulator/server.py) on 127.0.0.1 + AksProvider."""

from __future__ import annotations

from datetime import timedelta

from fleet.clock import FakeClock
from providers.aks.adapter import AksProvider
from providers.aks.emulator.server import AksEmulator

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
RESOURCE_GROUP = "rg-fleet"
LOCATION = "westeurope"


class AksHarness:
    type = "aks"

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.emulator = AksEmulator(self.clock)

    def start(self) -> None:
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def settings(self, **extra: object) -> dict[str, object]:
        return {"subscriptions": [SUBSCRIPTION], "endpoint": self.emulator.url, "timeoutSeconds": 5, **extra}

    def provider(self) -> AksProvider:
        return AksProvider("aks", self.settings(), clock=self.clock)

    def seed(self, name, control_plane, pools, available):
        self.emulator.add_cluster(name, control_plane, dict(pools), list(available), subscription=SUBSCRIPTION,
                                  resource_group=RESOURCE_GROUP, location=LOCATION)
        return f"aks/{LOCATION}/{name}"

    def finish_operations(self) -> None:
        self.clock.advance(timedelta(days=1))

    def upgrade_calls(self, cluster_id: str) -> int:
        name = cluster_id.rsplit("/", 1)[-1]
        return sum(1 for r in self.emulator.upgrade_log if r.cluster == name)

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.2", "1.29.8", "1.30.4")


def make_harness() -> AksHarness:
    return AksHarness()
