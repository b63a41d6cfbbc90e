"""Seed the running emulators with the scenario's fleet (fleet/demo/scenario.py), each through its own
emulator's seeding calls, so the adapters discover it through the clouds' APIs like any other fleet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fleet.demo import scenario as S
from fleet.demo.emulators import DemoClouds, image_for

KOPS_CONTROL_PLANE = "control-plane-us-east-1a"


def _date(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def seed_fleet(clouds: DemoClouds, clusters: list[S.DemoCluster]) -> dict[str, str]:
    """Create ``clusters`` in the emulators; returns cluster name -> the id fleet will discover it under."""
    e = clouds.emulators
    _offer_versions(e)
    ids: dict[str, str] = {}
    for c in clusters:
        ids[f"{c.provider}/{c.name}"] = _SEEDERS[c.provider](e[c.provider], c)
    return ids


def _offer_versions(e: dict[str, Any]) -> None:
    eks = e["eks"]
    newest = max(S.EKS_MINORS, key=lambda m: tuple(int(x) for x in m.split(".")))
    for minor, (status, eos, eoes) in S.EKS_MINORS.items():
        eks.add_version(minor, status=status, patch=S.EKS_AMIS[minor][-1].split("-")[0],
                        end_of_standard=_date(eos), end_of_extended=_date(eoes), default=minor == newest)
        eks.add_ami_releases(minor, S.EKS_AMIS[minor])
    e["gke"].set_versions(S.GKE_VERSIONS)


def _eks(emu: Any, c: S.DemoCluster) -> str:
    emu.add_cluster(c.name, c.version, {p: {"version": v, "nodes": 3} for p, v in c.pools.items()},
                    region=c.location, tags=c.labels)
    return f"eks/{c.location}/{c.name}"


def _gke(emu: Any, c: S.DemoCluster) -> str:
    emu.add_cluster(c.name, c.version, dict(c.pools), project=S.GKE_PROJECT, location=c.location,
                    labels=c.labels, nodes=2)
    return f"gke/{c.location}/{c.name}"


def _aks(emu: Any, c: S.DemoCluster) -> str:
    emu.add_cluster(c.name, c.version, dict(c.pools), S.AKS_VERSIONS, subscription=S.AKS_SUBSCRIPTION,
                    resource_group=f"rg-{c.labels.get('team', 'demo')}", location=c.location, tags=c.labels)
    return f"aks/{c.location}/{c.name}"


def _oke(emu: Any, c: S.DemoCluster) -> str:
    emu.add_cluster(c.name, c.version, dict(c.pools), region=c.location, available=S.OKE_VERSIONS, tags=c.labels)
    return f"oke/{c.location}/{c.name}"


def _capi(emu: Any, c: S.DemoCluster) -> str:
    emu.add_cluster(c.name, c.version, pools={p: (v, 2) for p, v in c.pools.items()}, infra_kind=c.infra,
                    image=image_for(c.infra, c.version), labels=c.labels, cp_replicas=3)
    return f"capi/{S.CAPI_MANAGEMENT}/default/{c.name}"


def _kops(emu: Any, c: S.DemoCluster) -> str:
    groups: dict[str, dict[str, Any]] = {KOPS_CONTROL_PLANE: {"role": "ControlPlane", "size": 1}}
    groups.update({p: {"role": "Node", "size": 2, "version": v} for p, v in c.pools.items()})
    emu.seed_cluster(c.name, c.version, groups, available=S.KOPS_VERSIONS, labels=c.labels)
    return f"kops/{emu.bucket}/{c.name}"


_SEEDERS = {"eks": _eks, "gke": _gke, "aks": _aks, "oke": _oke, "capi": _capi, "kops": _kops}
