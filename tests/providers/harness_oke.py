"""The OKE harness: OkeEmulator on 127.0.0.1, OkeProvider pointed at it (see harness.py)."""

from __future__ import annotations

from typing import Any

from providers.oke.emulator.kit import demo_auth
from providers.oke.emulator.server import DEFAULT_COMPARTMENT, DEFAULT_REGION, OkeEmulator
from tests.providers.harness import KitHarness


def oke_auth() -> dict[str, str]:
    """One in-memory API key per test session (RSA key generation is the slow part)."""
    return demo_auth()


def settings_for(emu: OkeEmulator, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"compartments": [DEFAULT_COMPARTMENT], "regions": [DEFAULT_REGION],
                                "endpoint": emu.endpoint, "auth": dict(oke_auth()), "timeoutSeconds": 2,
                                "pollIntervalSeconds": 30}
    settings.update(overrides)
    return settings


class OkeHarness(KitHarness):
    def __init__(self) -> None:
        super().__init__("oke")


def make_harness() -> OkeHarness:
    return OkeHarness()
