"""GKE behind the one emulator interface (fleet.emulator.Emulator): GkeEmulator on 127.0.0.1, reached with
anonymous credentials."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from providers.emulator_base import fake_clock
from providers.gke.emulator.server import GkeEmulator


class GkeEmulatorKit:
    type = "gke"

    def __init__(self, clock: Clock, directory: Path, *, project: str = "fleet-test",
                 location: str = "europe-west1", timeout_delay_s: float | None = None,
                 **emulator_options: Any) -> None:
        self.clock = clock
        self.directory = directory
        self.project, self.location = project, location
        self.emulator = GkeEmulator(clock, **emulator_options)
        if timeout_delay_s is not None:       # how long an injected 'timeout' holds the response
            self.emulator.server.timeout_delay_s = timeout_delay_s

    def start(self) -> None:
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def adapter_settings(self) -> dict[str, Any]:
        return {"projects": [self.project], "endpoint": self.emulator.url, "credentials": "anonymous"}

    def adapter_context(self) -> dict[str, Any]:
        return {}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        self.emulator.set_versions(available, project=self.project, location=self.location)
        self.emulator.add_cluster(name, control_plane, dict(pools), project=self.project, location=self.location)
        return f"gke/{self.location}/{name}"

    def finish_operations(self) -> None:
        end = self.emulator.next_completion()
        clock = fake_clock(self.clock)
        if end is not None and end > clock.now():
            clock.set(end)

    def upgrade_calls(self, cluster_id: str) -> int:
        _, location, name = cluster_id.split("/")
        return len(self.emulator.upgrades_for(location, name, self.project))

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.4-gke.1043002", "1.29.8-gke.1211000", "1.30.2-gke.1587003")
