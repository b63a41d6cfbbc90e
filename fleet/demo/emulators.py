"""Start every cloud emulator in this process on 127.0.0.1 (ephemeral ports), all on one shared clock, and
say how each provider's adapter reaches its emulator (the ``settings`` of the demo's FleetConfig).

The emulators are the same ones the provider tests use (providers/<name>/emulator.py): each speaks its
cloud's real API, so the adapters run their official SDKs unchanged. No credentials are read or needed:
EKS and kops get a throwaway credentials file / environment, GKE anonymous credentials, AKS a placeholder
bearer over plain http, OKE a freshly generated API key, Cluster API a kubeconfig with a demo token.

fleet.demo is the one part of the ``fleet`` package that imports ``providers``: it wires a whole local
world together, as the CLI does for a real one. The imports are lazy, so ``fleet --help`` needs no SDK.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from fleet.demo import scenario as S

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


@dataclass
class DemoClouds:
    """The six emulators. ``start()`` brings them up (in parallel), ``stop()`` takes them down."""

    clock: Clock
    directory: Path                       # where credential files, kubeconfig and the kops launcher go
    emulators: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self) -> DemoClouds:
        self.directory.mkdir(parents=True, exist_ok=True)
        starters: dict[str, Callable[[], None]] = {
            "eks": self._start_eks, "gke": self._start_gke, "aks": self._start_aks,
            "oke": self._start_oke, "capi": self._start_capi, "kops": self._start_kops}
        errors: dict[str, BaseException] = {}

        def run(name: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except BaseException as exc:   # noqa: BLE001 - reported below, after every thread ended
                errors[name] = exc

        threads = [threading.Thread(target=run, args=(n, f), name=f"demo-start-{n}") for n, f in starters.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.stop()
            name, exc = next(iter(errors.items()))
            raise RuntimeError(f"could not start the {name} emulator: {exc}") from exc
        return self

    def stop(self) -> None:
        for name, emu in list(self.emulators.items()):
            try:
                emu.stop()
            except Exception as exc:  # noqa: BLE001 - stopping the rest matters more
                log.warning("emulator did not stop cleanly", extra={"provider": name, "reason": repr(exc)})
        self.emulators.clear()

    def urls(self) -> dict[str, str]:
        return {n: str(getattr(e, "url", "")) for n, e in self.emulators.items()}

    def provider_configs(self) -> list[dict[str, Any]]:
        """``spec.providers`` of the demo FleetConfig, one per emulator (named like its type)."""
        return [{"name": n, "type": n, "settings": self.settings[n]} for n in S.PROVIDERS]

    # ---- one starter per cloud ---------------------------------------------------------------------------
    def _start_eks(self) -> None:
        from providers.eks.emulator.server import EksEmulator
        emu = EksEmulator(self.clock, cp_update_seconds=900, node_update_seconds=600)
        emu.start()
        self.emulators["eks"] = emu
        d = self.directory / "eks"
        d.mkdir(exist_ok=True)
        self.settings["eks"] = {**emu.adapter_settings(d, regions=EKS_REGIONS, profile="fleet-demo"),
                                "pollIntervalSeconds": 60}

    def _start_gke(self) -> None:
        from providers.gke.emulator.server import GkeEmulator
        emu = GkeEmulator(self.clock, master_seconds=900, node_seconds=240)
        emu.start()
        self.emulators["gke"] = emu
        self.settings["gke"] = {"projects": [S.GKE_PROJECT], "endpoint": emu.url, "credentials": "anonymous",
                                "timeoutSeconds": 10, "pollIntervalSeconds": 60}

    def _start_aks(self) -> None:
        from datetime import timedelta

        from providers.aks.emulator.server import AksEmulator
        emu = AksEmulator(self.clock, control_plane_duration=timedelta(minutes=15),
                          node_batch_duration=timedelta(minutes=5))
        emu.start()
        self.emulators["aks"] = emu
        self.settings["aks"] = {"subscriptions": [S.AKS_SUBSCRIPTION], "endpoint": emu.url, "timeoutSeconds": 10,
                                "pollIntervalSeconds": 60}

    def _start_oke(self) -> None:
        from providers.oke.emulator.server import DEFAULT_COMPARTMENT, OkeEmulator
        emu = OkeEmulator(self.clock, default_region=OKE_REGIONS[0])
        emu.start()
        self.emulators["oke"] = emu
        d = self.directory / "oke"
        d.mkdir(exist_ok=True)
        auth = OkeEmulator.demo_auth()
        key = d / "demo-api-key.pem"
        key.write_text(auth.pop("privateKey"))
        key.chmod(0o600)
        self.settings["oke"] = {"compartments": [DEFAULT_COMPARTMENT], "regions": list(OKE_REGIONS),
                                "endpoint": emu.endpoint, "auth": {**auth, "privateKeyFile": str(key)},
                                "timeoutSeconds": 10, "pollIntervalSeconds": 60}

    def _start_capi(self) -> None:
        import yaml

        from providers.capi.emulator.server import CapiEmulator
        emu = CapiEmulator(self.clock, capi_version="v1beta2", token=CAPI_TOKEN)
        emu.start()
        self.emulators["capi"] = emu
        d = self.directory / "capi"
        d.mkdir(exist_ok=True)
        kubeconfig = d / "kubeconfig"
        name = S.CAPI_MANAGEMENT
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": emu.url}}],
            "users": [{"name": "fleet", "user": {"token": CAPI_TOKEN}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "fleet"}}]}))
        kubeconfig.chmod(0o600)
        images = {kind: {v: image_for(kind, v) for v in versions} for kind, versions in S.CAPI_IMAGES.items()}
        self.settings["capi"] = {"managementClusters": [{"kubeconfig": str(kubeconfig), "context": name}],
                                 "images": images, "requestTimeoutSeconds": 10, "pollIntervalSeconds": 60}

    def _start_kops(self) -> None:
        from providers.kops.emulator.server import KopsEmulator
        emu = KopsEmulator(self.clock, instance_seconds=240, validate_seconds=60)
        emu.start()
        self.emulators["kops"] = emu
        d = self.directory / "kops"
        (d / "bin").mkdir(parents=True, exist_ok=True)
        self.settings["kops"] = emu.adapter_settings(d / "bin", commandTimeout=15, requestTimeout=10,
                                                     logDir=str(d / "rolls"))


def image_for(kind: str, version: str) -> str:
    """The machine image an image pipeline built for ``version``: an OCI custom image OCID, or a node image
    for the lab's DevMachineTemplate (the emulator only records it)."""
    if kind == "OCIMachineTemplate":
        return f"ocid1.image.oc1.eu-frankfurt-1.fleetdemo-k8s-{version.lstrip('v').replace('.', '-')}"
    return f"kindest/node:{version}"
