"""The one interface every provider's emulator offers, and where to find them.

Each provider ships an emulator of its cloud (``providers/<name>/emulator/``): a local stand-in speaking the
cloud's real API, on 127.0.0.1, so the adapter runs its official SDK unchanged. The demo, the provider
contract suite and the benches start any cloud through this interface instead of per-cloud wiring. Emulators
register under the entry-point group ``fleet.emulators`` (one per provider type, named like it) as a class
``Kit(clock, directory, **options)``; fleet finds them by name and never imports ``providers`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fleet.clock import Clock
from fleet.errors import ProviderNotFound

ENTRY_POINT_GROUP = "fleet.emulators"


@runtime_checkable
class Emulator(Protocol):
    """An emulated cloud (or management cluster) for one provider type, in this process."""

    type: str          # the provider type it emulates (``eks``, ``sim``, ...)
    clock: Clock       # the emulator's notion of now; finish_operations() needs a FakeClock

    def start(self) -> None:
        """Serve on 127.0.0.1 (an ephemeral port); write any file the adapter needs into the directory."""

    def stop(self) -> None:
        """Stop serving and release the port."""

    def adapter_settings(self) -> dict[str, Any]:
        """The ``settings`` of a ``spec.providers[]`` entry of this type that point the adapter here."""

    def adapter_context(self) -> dict[str, Any]:
        """Keyword arguments besides ``settings`` an in-process adapter needs (``config_dir``, the sim's world)."""

    def seed(self, name: str, control_plane: str, pools: Mapping[str, str], available: list[str]) -> str:
        """Create a cluster at these versions; ``available`` are the versions the cloud offers (newest last).
        Returns the id the adapter's discover() reports it under."""

    def finish_operations(self) -> None:
        """Advance virtual time until every running operation has completed."""

    def inject(self, fault: str) -> None:
        """Make the NEXT adapter request fail: ``throttle`` (429 + Retry-After), ``server-error`` (5xx),
        ``forbidden`` (403); or ``fail-operation``: the next operation started ends FAILED."""

    def upgrade_calls(self, cluster_id: str) -> int:
        """Mutating upgrade requests the emulator accepted for this cluster, from its own log."""

    def versions(self) -> tuple[str, str, str]:
        """Three versions the emulator offers, in the provider's spelling, ascending: (a current one, a newer
        patch of the same minor, the next minor); a cloud without control-plane patches (EKS) repeats the
        current one."""


def known_emulator_types() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_emulator_class(type_name: str) -> type[Emulator]:
    """The emulator class of a provider type, loaded through its entry point; unknown names list the known."""
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == type_name]
    if not matches:
        known = ", ".join(known_emulator_types()) or "(none installed)"
        raise ProviderNotFound(f"no emulator for provider type {type_name!r}; known: {known}")
    cls = matches[0].load()
    missing = [m for m in ("start", "stop", "adapter_settings", "adapter_context", "seed", "finish_operations",
                           "inject", "upgrade_calls", "versions") if not callable(getattr(cls, m, None))]
    if missing:
        raise ProviderNotFound(f"emulator {type_name!r} ({matches[0].value}) does not implement "
                               f"{', '.join(missing)}")
    return cls


def create_emulator(type_name: str, clock: Clock, directory: Path, **options: Any) -> Emulator:
    """A new (not yet started) emulator of ``type_name`` on ``clock``, keeping its files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return load_emulator_class(type_name)(clock, directory, **options)  # type: ignore[call-arg]
