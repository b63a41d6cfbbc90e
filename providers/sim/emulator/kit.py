"""The simulated cloud behind the one emulator interface (fleet.emulator.Emulator): an in-memory SimWorld.

There is nothing to serve: the adapter is handed the world itself (``adapter_context``). One-shot API faults
go through the world's queue; ``fail-operation`` makes every operation started from then on fail."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from fleet.provider import Cluster, NodePool
from providers.emulator_base import fake_clock
from providers.sim.world import Faults, SimWorld


class SimEmulatorKit:
    type = "sim"

    def __init__(self, clock: Clock, directory: Path, **world_options: Any) -> None:
        self.clock = clock
        self.directory = directory
        self.world = SimWorld(clock, faults=Faults(), **world_options)
        self.emulator = self.world

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def adapter_settings(self) -> dict[str, Any]:
        return {}

    def adapter_context(self) -> dict[str, Any]:
        return {"world": self.world}

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        self.world.add(Cluster(provider="sim", location="local", name=name, control_plane=control_plane,
                               node_pools=tuple(NodePool(n, v, 3) for n, v in pools.items()),
                               available=tuple(available)))
        return f"sim/local/{name}"

    def finish_operations(self) -> None:
        fake_clock(self.clock).advance(timedelta(days=1))

    def upgrade_calls(self, cluster_id: str) -> int:
        return sum(1 for cid, _ in self.world.upgrade_log if cid == cluster_id)

    def inject(self, fault: str) -> None:
        if fault == "fail-operation":
            self.world.faults.step_failure_rate = 1.0
        else:
            self.world.next_faults.append(fault)

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.2", "1.29.8", "1.30.4")
