"""kops behind the one emulator interface (fleet.emulator.Emulator): moto's S3 state store behind a
fault-injecting proxy, and an emulated ``kops`` launcher in ``<directory>/bin`` that the adapter runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from providers.emulator_base import fake_clock
from providers.kops.emulator.server import KopsEmulator

CONTROL_PLANE_IG = "control-plane-us-east-1a"


class KopsEmulatorKit:
    type = "kops"

    def __init__(self, clock: Clock, directory: Path, **emulator_options: Any) -> None:
        self.clock = clock
        self.directory = directory
        self.bin = directory / "bin"
        self.emulator = KopsEmulator(clock, **emulator_options)

    def start(self) -> None:
        self.bin.mkdir(parents=True, exist_ok=True)
        self.emulator.write_launcher(self.bin)
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def adapter_settings(self) -> dict[str, Any]:
        return self.emulator.adapter_settings(self.bin)

    def adapter_context(self) -> dict[str, Any]:
        return {}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        cluster = f"{name}.k8s.local"
        groups: dict[str, dict[str, Any]] = {CONTROL_PLANE_IG: {"role": "ControlPlane", "size": 1}}
        groups.update({p: {"role": "Node", "size": 3, "version": v} for p, v in pools.items()})
        self.emulator.seed_cluster(cluster, control_plane, groups, available=available)
        return f"kops/{self.emulator.bucket}/{cluster}"

    def finish_operations(self) -> None:
        fake_clock(self.clock).advance(timedelta(days=1))

    def upgrade_calls(self, cluster_id: str) -> int:
        return len(self.emulator.upgrade_log(cluster_id.rsplit("/", 1)[-1], kind="apply"))

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.2", "1.29.8", "1.30.4")
