"""Contract-suite harness for the kops provider: the kops emulator (moto S3 + an emulated ``kops`` first on
PATH) driven by KopsProvider under a FakeClock that the adapter exports to kops (``exportClock``)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from fleet.clock import FakeClock
from providers.kops.adapter import KopsProvider
from providers.kops.emulator.server import KopsEmulator

CONTROL_PLANE_IG = "control-plane-us-east-1a"


class KopsHarness:
    type = "kops"

    def __init__(self, **emulator_options: Any) -> None:
        self.clock = FakeClock()
        self.emu = KopsEmulator(self.clock, **emulator_options)
        self.tmp: Path | None = None

    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="fleet-kops-"))
        (self.tmp / "bin").mkdir()
        self.emu.write_launcher(self.tmp / "bin")
        self.emu.start()

    def stop(self) -> None:
        self.emu.stop()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        assert self.tmp is not None
        return self.emu.adapter_settings(self.tmp / "bin", **{"commandTimeout": 30, "requestTimeout": 5, **overrides})

    def provider(self, **overrides: Any) -> KopsProvider:
        return KopsProvider("kops", self.settings(**overrides), clock=self.clock)

    def seed(self, name: str, control_plane: str, pools: dict[str, str], available: list[str]) -> str:
        cluster = f"{name}.k8s.local"
        groups: dict[str, dict[str, Any]] = {CONTROL_PLANE_IG: {"role": "ControlPlane", "size": 1}}
        groups.update({p: {"role": "Node", "size": 3, "version": v} for p, v in pools.items()})
        self.emu.seed_cluster(cluster, control_plane, groups, available=available)
        return f"kops/{self.emu.bucket}/{cluster}"

    def finish_operations(self) -> None:
        self.clock.advance(timedelta(days=1))

    def upgrade_calls(self, cluster_id: str) -> int:
        return len(self.emu.upgrade_log(cluster_id.rsplit("/", 1)[-1], kind="apply"))

    def inject(self, fault: str) -> None:
        self.emu.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.2", "1.29.8", "1.30.4")


def make_harness() -> KopsHarness:
    return KopsHarness()
