"""Start every cloud emulator in this process on 127.0.0.1 (ephemeral ports), all on one shared clock, and
say how each provider's adapter reaches its emulator (the ``settings`` of the demo's FleetConfig).

The emulators are the same ones the provider tests use (providers/<name>/emulator/), started through the one
emulator interface (fleet.emulator) found by entry point: each speaks its cloud's real API, so the adapters
run their official SDKs unchanged. No credentials are read or needed:
EKS and kops get a throwaway credentials file / environment, GKE anonymous credentials, AKS a placeholder
bearer over plain http, OKE a freshly generated API key, Cluster API a kubeconfig with a demo token.

fleet.demo wires a whole local world together, as the CLI does for a real one, without importing
``providers``: emulators and adapters are loaded by name, lazily, so ``fleet --help`` needs no SDK.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from fleet.demo import scenario as S
from fleet.emulator import Emulator, create_emulator, known_emulator_types

log = logging.getLogger("fleet.demo")

CAPI_TOKEN = "fleet-demo-token"       # the emulated management cluster's bearer token (not a secret)
EKS_REGIONS = ("us-east-1", "eu-west-1")
OKE_REGIONS = ("eu-frankfurt-1", "us-ashburn-1")

# the extras a demo needs, and the module that tells each one is installed
REQUIRED = {"eks": "boto3", "gke": "google.cloud.container_v1", "aks": "azure.mgmt.containerservice",
            "oke": "oci", "capi": "kubernetes", "kops": "boto3", "moto": "moto.server"}


def missing_modules() -> list[str]:
    """Top-level modules the demo needs that are not installed (empty when the demo can run)."""
    import importlib.util
    missing = []
    for mod in dict.fromkeys(REQUIRED.values()):
        try:
            found = importlib.util.find_spec(mod) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(mod)
    return missing


def demo_options(name: str, directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """For one provider type: its emulator's options (demo timings and scenario accounts) and what the demo
    adds to the emulator's adapter settings (timeouts, poll intervals)."""
    polls: dict[str, Any] = {"timeoutSeconds": 10, "pollIntervalSeconds": 60}
    if name == "eks":
        cp, pool = S.DEMO_STEP_DURATIONS["eks"]
        return ({"cp_update_seconds": int(cp.total_seconds()), "node_update_seconds": int(pool.total_seconds()),
                 "regions": EKS_REGIONS,
                 "profile": "fleet-demo"}, {"pollIntervalSeconds": 60})
    if name == "gke":
        cp, pool = S.DEMO_STEP_DURATIONS["gke"]
        return ({"master_seconds": int(cp.total_seconds()), "node_seconds": int(pool.total_seconds()),
                 "project": S.GKE_PROJECT}, polls)
    if name == "aks":
        cp, pool = S.DEMO_STEP_DURATIONS["aks"]
        return ({"control_plane_duration": cp, "node_batch_duration": pool,
                 "subscription": S.AKS_SUBSCRIPTION}, polls)
    if name == "oke":
        cp, pool = S.DEMO_STEP_DURATIONS["oke"]
        return ({"regions": OKE_REGIONS, "key_file": True, "cluster_minutes": cp.total_seconds() / 60,
                 "node_minutes": pool.total_seconds() / 60}, polls)
    if name == "capi":
        images = {kind: {v: image_for(kind, v) for v in versions} for kind, versions in S.CAPI_IMAGES.items()}
        return ({"capi_version": "v1beta2", "token": CAPI_TOKEN, "context": S.CAPI_MANAGEMENT, "images": images},
                {"requestTimeoutSeconds": 10, "pollIntervalSeconds": 60})
    if name == "kops":
        return ({"instance_seconds": 240, "validate_seconds": 60, "kops_version": S.KOPS_BINARY},
                {"commandTimeout": 15, "requestTimeout": 10, "logDir": str(directory / "rolls")})
    return {}, {}


@dataclass
class DemoClouds:
    """The scenario's emulators, one per provider type in ``scenario.PROVIDERS``, found through the
    ``fleet.emulators`` entry points. ``start()`` brings them up (in parallel), ``stop()`` takes them down."""

    clock: Clock
    directory: Path                       # where credential files, kubeconfig and the kops launcher go
    kits: dict[str, Emulator] = field(default_factory=dict)
    emulators: dict[str, Any] = field(default_factory=dict)     # provider type -> its native emulator (seeding)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self) -> DemoClouds:
        self.directory.mkdir(parents=True, exist_ok=True)
        names = [n for n in known_emulator_types() if n in S.PROVIDERS]
        errors: dict[str, BaseException] = {}

        def run(name: str) -> None:
            try:
                self._start(name)
            except BaseException as exc:   # noqa: BLE001 - reported below, after every thread ended
                errors[name] = exc

        threads = [threading.Thread(target=run, args=(n,), name=f"demo-start-{n}") for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.stop()
            name, exc = next(iter(errors.items()))
            raise RuntimeError(f"could not start the {name} emulator: {exc}") from exc
        return self

    def _start(self, name: str) -> None:
        directory = self.directory / name
        options, extra_settings = demo_options(name, directory)
        kit = create_emulator(name, self.clock, directory, **options)
        kit.start()
        self.kits[name] = kit
        self.emulators[name] = getattr(kit, "emulator", kit)
        self.settings[name] = {**kit.adapter_settings(), **extra_settings}

    def stop(self) -> None:
        for name, kit in list(self.kits.items()):
            try:
                kit.stop()
            except Exception as exc:  # noqa: BLE001 - stopping the rest matters more
                log.warning("emulator did not stop cleanly", extra={"provider": name, "reason": repr(exc)})
        self.kits.clear()
        self.emulators.clear()

    def urls(self) -> dict[str, str]:
        return {n: str(getattr(e, "url", "")) for n, e in self.emulators.items()}

    def provider_configs(self) -> list[dict[str, Any]]:
        """``spec.providers`` of the demo FleetConfig, one per emulator (named like its type)."""
        return [{"name": n, "type": n, "settings": self.settings[n]} for n in S.PROVIDERS]


def image_for(kind: str, version: str) -> str:
    """The machine image an image pipeline built for ``version``: an OCI custom image OCID, or a node image
    for the lab's DevMachineTemplate (the emulator only records it)."""
    if kind == "OCIMachineTemplate":
        return f"ocid1.image.oc1.eu-frankfurt-1.fleetdemo-k8s-{version.lstrip('v').replace('.', '-')}"
    return f"kindest/node:{version}"
