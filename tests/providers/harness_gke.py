"""The contract-suite harness for GKE: GkeEmulator on 127.0.0.1 + GkeProvider over the real SDK (REST)."""

from __future__ import annotations

from fleet.clock import FakeClock
from providers.gke.adapter import GkeProvider
from providers.gke.emulator.server import GkeEmulator

PROJECT = "fleet-test"
LOCATION = "europe-west1"


class GkeHarness:
    type = "gke"

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.emulator = GkeEmulator(self.clock)
        self.emulator.server.timeout_delay_s = 1.5

    def start(self) -> None:
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def settings(self, **extra: object) -> dict[str, object]:
        return {"projects": [PROJECT], "endpoint": self.emulator.url, "credentials": "anonymous",
                "timeoutSeconds": 1.0, "pollIntervalSeconds": 5, **extra}

    def provider(self) -> GkeProvider:
        return GkeProvider("gke", self.settings(), clock=self.clock)

    def seed(self, name, control_plane, pools, available):
        self.emulator.set_versions(available, project=PROJECT, location=LOCATION)
        self.emulator.add_cluster(name, control_plane, pools, project=PROJECT, location=LOCATION)
        return f"gke/{LOCATION}/{name}"

    def finish_operations(self) -> None:
        end = self.emulator.next_completion()
        if end is not None and end > self.clock.now():
            self.clock.set(end)

    def upgrade_calls(self, cluster_id: str) -> int:
        _, location, name = cluster_id.split("/")
        return len(self.emulator.upgrades_for(location, name, PROJECT))

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.4-gke.1043002", "1.29.8-gke.1211000", "1.30.2-gke.1587003")


def make_harness() -> GkeHarness:
    return GkeHarness()
