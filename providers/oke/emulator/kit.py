"""OKE behind the one emulator interface (fleet.emulator.Emulator): OkeEmulator on 127.0.0.1 and an API key
generated for it (in memory, or written into the directory with ``key_file=True``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from providers.emulator_base import fake_clock
from providers.oke.emulator.server import DEFAULT_COMPARTMENT, DEFAULT_REGION, OkeEmulator


@lru_cache(maxsize=1)
def demo_auth() -> dict[str, str]:
    """One in-memory API key per process (RSA key generation is the slow part)."""
    return OkeEmulator.demo_auth()


class OkeEmulatorKit:
    type = "oke"

    def __init__(self, clock: Clock, directory: Path, *, regions: tuple[str, ...] = (DEFAULT_REGION,),
                 key_file: bool = False, **emulator_options: Any) -> None:
        self.clock = clock
        self.directory = directory
        self.regions, self.key_file = tuple(regions), key_file
        self.emulator = OkeEmulator(clock, default_region=self.regions[0], **emulator_options)

    def start(self) -> None:
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def _auth(self) -> dict[str, str]:
        auth = dict(demo_auth())
        if self.key_file:
            key = self.directory / "demo-api-key.pem"
            key.write_text(auth.pop("privateKey"))
            key.chmod(0o600)
            auth["privateKeyFile"] = str(key)
        return auth

    def adapter_settings(self) -> dict[str, Any]:
        return {"compartments": [DEFAULT_COMPARTMENT], "regions": list(self.regions),
                "endpoint": self.emulator.endpoint, "auth": self._auth()}

    def adapter_context(self) -> dict[str, Any]:
        return {}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        self.emulator.add_cluster(name, control_plane, dict(pools), available=available)
        return f"oke/{self.regions[0]}/{name}"

    def finish_operations(self) -> None:
        fake_clock(self.clock).advance(timedelta(seconds=self.emulator.pending_seconds() + 1))

    def upgrade_calls(self, cluster_id: str) -> int:
        return sum(1 for e in self.emulator.upgrade_log if f"oke/{e['region']}/{e['clusterName']}" == cluster_id)

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("v1.30.1", "v1.30.10", "v1.31.1")
