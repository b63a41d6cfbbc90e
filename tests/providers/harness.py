"""What each provider's test harness offers the one contract suite (tests/providers/test_contract.py).

A harness starts its provider's emulator on 127.0.0.1 (ephemeral port) and builds adapters pointed at it.
Register a harness by adding ``tests/providers/harness_<type>.py`` defining ``make_harness() -> Harness``;
it is found by its file name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fleet.clock import FakeClock
from fleet.provider import Provider

HARNESS_TYPES = sorted(f.stem.removeprefix("harness_") for f in Path(__file__).parent.glob("harness_*.py"))


class Harness(Protocol):
    type: str
    clock: FakeClock

    def start(self) -> None:
        """Start the emulator(s) on 127.0.0.1."""

    def stop(self) -> None:
        """Stop them and release ports and temp files."""

    def provider(self) -> Provider:
        """A NEW adapter instance pointed at the emulator (a new instance stands for a daemon restart)."""

    def seed(self, name: str, control_plane: str, pools: dict[str, str], available: list[str]) -> str:
        """Create a cluster with these versions; ``available`` = versions the cloud offers (newest last).
        Pools get the same offers unless the cloud spells node versions differently (the harness maps).
        Returns the cluster id the adapter's discover() reports."""

    def finish_operations(self) -> None:
        """Advance virtual time (self.clock) until every running operation completes."""

    def upgrade_calls(self, cluster_id: str) -> int:
        """Mutating upgrade requests the emulator accepted for this cluster, from the emulator's own log."""

    def inject(self, fault: str) -> None:
        """Make the NEXT provider request fail: 'throttle' (429 + Retry-After), 'server-error' (5xx),
        'forbidden' (403); or 'fail-operation': the next operation started ends FAILED."""

    def versions(self) -> tuple[str, str, str]:
        """Three offered control-plane versions in the provider's spelling, ascending, used by the suite:
        (current, a newer patch of the same minor, the next minor). A cloud whose control planes have no patches
        (EKS) returns the current version twice: (current, current, next minor)."""
