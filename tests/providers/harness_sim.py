"""The sim harness: an in-memory SimWorld handed to SimProvider (see harness.py)."""

from __future__ import annotations

from typing import Any

from tests.providers.harness import KitHarness


class SimHarness(KitHarness):
    def __init__(self) -> None:
        super().__init__("sim")

    @property
    def world(self) -> Any:
        return self.emulator


def make_harness() -> SimHarness:
    return SimHarness()
