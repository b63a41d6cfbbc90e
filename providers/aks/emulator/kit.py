"""AKS behind the one emulator interface (fleet.emulator.Emulator): the ARM emulator on 127.0.0.1 over plain
http (the adapter then sends a placeholder bearer, never a real token)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from providers.aks.emulator.server import AksEmulator
from providers.emulator_base import fake_clock


class AksEmulatorKit:
    type = "aks"

    def __init__(self, clock: Clock, directory: Path, *,
                 subscription: str = "11111111-2222-3333-4444-555555555555", resource_group: str = "rg-fleet",
                 location: str = "westeurope", **emulator_options: Any) -> None:
        self.clock = clock
        self.directory = directory
        self.subscription, self.resource_group, self.location = subscription, resource_group, location
        self.emulator = AksEmulator(clock, **emulator_options)

    def start(self) -> None:
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def adapter_settings(self) -> dict[str, Any]:
        return {"subscriptions": [self.subscription], "endpoint": self.emulator.url}

    def adapter_context(self) -> dict[str, Any]:
        return {}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        self.emulator.add_cluster(name, control_plane, dict(pools), list(available), subscription=self.subscription,
                                  resource_group=self.resource_group, location=self.location)
        return f"aks/{self.location}/{name}"

    def finish_operations(self) -> None:
        fake_clock(self.clock).advance(timedelta(days=1))

    def upgrade_calls(self, cluster_id: str) -> int:
        name = cluster_id.rsplit("/", 1)[-1]
        return sum(1 for r in self.emulator.upgrade_log if r.cluster == name)

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.2", "1.29.8", "1.30.4")
