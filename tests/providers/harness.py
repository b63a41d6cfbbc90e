"""What the one contract suite (tests/providers/test_contract.py) drives: each provider's emulator, found
through the ``fleet.emulators`` entry points (fleet.emulator.Emulator), and adapters pointed at it.

One harness for every cloud: it starts the emulator on 127.0.0.1 (ephemeral port) under a FakeClock, in a
throwaway directory, and builds adapters through the ``fleet.providers`` entry points from the emulator's
adapter settings plus the short timeouts below. ``harness_<type>.py`` keep each cloud's named harness (and
its constants) for the tests of that cloud alone.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleet.clock import FakeClock
from fleet.emulator import create_emulator, known_emulator_types
from fleet.provider import Provider, create_provider

HARNESS_TYPES = known_emulator_types()

# added to each emulator's adapter settings: short timeouts, so the timeout tests stay fast
TEST_SETTINGS: dict[str, dict[str, Any]] = {
    "gke": {"timeoutSeconds": 1.0, "pollIntervalSeconds": 5},
    "aks": {"timeoutSeconds": 5},
    "oke": {"timeoutSeconds": 2, "pollIntervalSeconds": 30},
    "capi": {"requestTimeoutSeconds": 5},
    "kops": {"commandTimeout": 30, "requestTimeout": 5},
}
# emulator options of the suite: an injected GKE 'timeout' holds the response past the 1 s timeout above
TEST_OPTIONS: dict[str, dict[str, Any]] = {"gke": {"timeout_delay_s": 1.5}}


class KitHarness:
    """A provider's emulator (``kit``, and its native ``emulator``) plus adapters pointed at it."""

    def __init__(self, type_name: str, **options: Any) -> None:
        self.type = type_name
        self.clock = FakeClock()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"fleet-{type_name}-"))
        self.kit = create_emulator(type_name, self.clock, self.tmp, **{**TEST_OPTIONS.get(type_name, {}), **options})
        self.emulator: Any = getattr(self.kit, "emulator", None)

    def start(self) -> None:
        """Start the emulator on 127.0.0.1."""
        self.kit.start()

    def stop(self) -> None:
        """Stop it and release the port and temp files."""
        self.kit.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return {**self.kit.adapter_settings(), **TEST_SETTINGS.get(self.type, {}), **overrides}

    def provider(self, **overrides: Any) -> Provider:
        """A NEW adapter instance pointed at the emulator (a new instance stands for a daemon restart)."""
        return create_provider(self.type, self.type, self.settings(**overrides), clock=self.clock,
                               **self.kit.adapter_context())

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        """Create a cluster with these versions; ``available`` = versions the cloud offers (newest last).
        Returns the cluster id the adapter's discover() reports."""
        return self.kit.seed(name, control_plane, pools, available)

    def finish_operations(self) -> None:
        """Advance virtual time (self.clock) until every running operation completes."""
        self.kit.finish_operations()

    def upgrade_calls(self, cluster_id: str) -> int:
        """Mutating upgrade requests the emulator accepted for this cluster, from the emulator's own log."""
        return self.kit.upgrade_calls(cluster_id)

    def inject(self, fault: str) -> None:
        """Make the NEXT provider request fail: 'throttle' (429 + Retry-After), 'server-error' (5xx),
        'forbidden' (403); or 'fail-operation': the next operation started ends FAILED."""
        self.kit.inject(fault)

    def versions(self) -> tuple[str, str, str]:
        """(current, a newer patch of the same minor, the next minor) in the provider's spelling; EKS, whose
        control planes have no patches, returns the current version twice."""
        return self.kit.versions()


def make_harness(type_name: str, **options: Any) -> KitHarness:
    return KitHarness(type_name, **options)
