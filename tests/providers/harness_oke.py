"""The OKE harness for the shared contract suite: OkeEmulator on 127.0.0.1, OkeProvider pointed at it."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from fleet.clock import FakeClock
from providers.oke.adapter import OkeProvider
from providers.oke.emulator.server import DEFAULT_COMPARTMENT, DEFAULT_REGION, OkeEmulator


@lru_cache(maxsize=1)
def oke_auth() -> dict[str, str]:
    """One in-memory API key per test session (RSA key generation is the slow part)."""
    return OkeEmulator.demo_auth()


def settings_for(emu: OkeEmulator, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"compartments": [DEFAULT_COMPARTMENT], "regions": [DEFAULT_REGION],
                                "endpoint": emu.endpoint, "auth": dict(oke_auth()), "timeoutSeconds": 2,
                                "pollIntervalSeconds": 30}
    settings.update(overrides)
    return settings


class OkeHarness:
    type = "oke"

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.emulator = OkeEmulator(self.clock)

    def start(self) -> None:
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def provider(self, **overrides: Any) -> OkeProvider:
        return OkeProvider("oke", settings_for(self.emulator, **overrides), clock=self.clock)

    def seed(self, name: str, control_plane: str, pools: dict[str, str], available: list[str]) -> str:
        self.emulator.add_cluster(name, control_plane, pools, available=available)
        return f"oke/{DEFAULT_REGION}/{name}"

    def finish_operations(self) -> None:
        self.clock.advance(timedelta(seconds=self.emulator.pending_seconds() + 1))

    def upgrade_calls(self, cluster_id: str) -> int:
        return sum(1 for e in self.emulator.upgrade_log if f"oke/{e['region']}/{e['clusterName']}" == cluster_id)

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("v1.30.1", "v1.30.10", "v1.31.1")


def make_harness() -> OkeHarness:
    return OkeHarness()
