"""Contract-suite harness for EKS: EksEmulator (moto + upgrade routes) on 127.0.0.1, boto3 adapter."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from fleet.clock import FakeClock
from fleet.versions import parse_version
from providers.eks.adapter import EksProvider
from providers.eks.emulator.server import EksEmulator, NodegroupSpec

REGION = "us-east-1"
PROFILE = "fleet-test"


def ami_releases(minor: str) -> list[str]:
    """Two EKS optimized AMI releases per minor: an older one (seeded) and the recommended one."""
    return [f"{minor}.0-20240105", f"{minor}.3-20240312"]


class EksHarness:
    type = "eks"

    def __init__(self, **emulator_options: float) -> None:
        self.clock = FakeClock()
        self.emulator = EksEmulator(self.clock, **emulator_options)
        self._dir = Path(tempfile.mkdtemp(prefix="fleet-eks-"))

    def start(self) -> None:
        self.emulator.start()
        self._settings = self.emulator.adapter_settings(self._dir, regions=(REGION,), profile=PROFILE)

    def stop(self) -> None:
        self.emulator.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def settings(self) -> dict:
        return dict(self._settings)

    def provider(self, **overrides: object) -> EksProvider:
        return EksProvider("eks", {**self.settings(), **overrides}, clock=self.clock, config_dir=str(self._dir))

    def seed(self, name: str, control_plane: str, pools: dict[str, str], available: list[str]) -> str:
        for v in available:
            minor = parse_version(v).minor_str
            self.emulator.add_version(minor)
            self.emulator.add_ami_releases(minor, ami_releases(minor))
        self.emulator.add_cluster(name, parse_version(control_plane).minor_str,
                                  {p: NodegroupSpec(v) for p, v in pools.items()}, region=REGION)
        return f"eks/{REGION}/{name}"

    def finish_operations(self) -> None:
        self.clock.advance(timedelta(days=1))

    def upgrade_calls(self, cluster_id: str) -> int:
        _, location, name = cluster_id.split("/")
        return self.emulator.upgrade_calls(name, region=location)

    def inject(self, fault: str) -> None:
        self.emulator.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        # EKS control planes have no patches and move one minor at a time, so the suite's "newer patch"
        # cannot exist and its cur -> minor step must be exactly one minor: the middle value is the current
        # minor itself (the busy test then asks for a different target while 1.30 runs: refused, temporary).
        return ("1.29", "1.29", "1.30")


def make_harness() -> EksHarness:
    return EksHarness()
