"""EKS behind the one emulator interface (fleet.emulator.Emulator): EksEmulator (moto + upgrade routes) on
127.0.0.1 and a throwaway credentials file, so the boto3 adapter never reads real AWS credentials."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from fleet.versions import parse_version
from providers.eks.emulator.server import EksEmulator, NodegroupSpec
from providers.emulator_base import fake_clock


def ami_releases(minor: str) -> list[str]:
    """Two EKS optimized AMI releases per minor: an older one (seeded) and the recommended one."""
    return [f"{minor}.0-20240105", f"{minor}.3-20240312"]


class EksEmulatorKit:
    type = "eks"

    def __init__(self, clock: Clock, directory: Path, *, regions: tuple[str, ...] = ("us-east-1",),
                 profile: str = "fleet-test", **emulator_options: Any) -> None:
        self.clock = clock
        self.directory = directory
        self.regions, self.profile = tuple(regions), profile
        self.emulator = EksEmulator(clock, **emulator_options)
        self._settings: dict[str, Any] = {}

    def start(self) -> None:
        self.emulator.start()
        self._settings = self.emulator.adapter_settings(self.directory, regions=self.regions, profile=self.profile)

    def stop(self) -> None:
        self.emulator.stop()

    def adapter_settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def adapter_context(self) -> dict[str, Any]:
        return {"config_dir": str(self.directory)}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        for v in available:
            minor = parse_version(v).minor_str
            self.emulator.add_version(minor)
            self.emulator.add_ami_releases(minor, ami_releases(minor))
        region = self.regions[0]
        self.emulator.add_cluster(name, parse_version(control_plane).minor_str,
                                  {p: NodegroupSpec(v) for p, v in pools.items()}, region=region)
        return f"eks/{region}/{name}"

    def finish_operations(self) -> None:
        fake_clock(self.clock).advance(timedelta(days=1))

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
