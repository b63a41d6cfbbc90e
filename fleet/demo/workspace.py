"""The demo's working folder: a FleetConfig pointing at the local emulators, the four example policies of
policies/examples/ (adapted so their windows open inside the demo's week), an API token and the state.

The policies are kept here as data (an installed package has no policies/ folder); tests/demo checks that
each one differs from its example in policies/examples/ only by the adaptations listed in ``ADAPTED``.

    <dir>/fleet.yaml               FleetConfig (providers -> emulators, state, API, policies)
    <dir>/policies/*.yaml          UpgradePolicies
    <dir>/api-token                write token of the HTTP API (mode 0600)
    <dir>/state/fleet.db           SQLite state store
    <dir>/emulators/...            credentials, kubeconfig and kops launcher of the local clouds
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml

API = "fleet.dev/v1alpha1"
RECONCILE_INTERVAL = "1h"           # virtual time; the daemon also wakes at window openings, due polls and
                                    # soak ends, and in the demo nobody changes the clouds behind its back


def _policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "UpgradePolicy", "metadata": {"name": name}, "spec": spec}


# name -> (what was adapted from policies/examples/<name>.yaml, the policy)
POLICIES: dict[str, tuple[str, dict[str, Any]]] = {
    "production": (
        "windows every night (the example: weekend nights) and shorter soaks, so the three waves finish "
        "within the demo's week",
        _policy("production", {
            "priority": 100,
            "selector": {"matchLabels": {"env": "prod"}},
            "target": {"version": "latest-1"},
            "path": "patch-first-then-minor",
            "nodePools": {"upgrade": "lockstep", "strategy": "surge", "maxSurge": "25%", "maxUnavailable": 0,
                          "drainTimeout": "30m"},
            "maintenance": {
                "timezone": "Europe/Berlin",
                "windows": [{"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "start": "01:00",
                             "duration": "5h"}],
                "exclusions": [{"name": "year-end-freeze", "start": "2026-12-15T00:00:00",
                                "end": "2027-01-06T00:00:00", "scope": "no-upgrades"}]},
            "rollout": {
                "waves": [{"name": "canary", "selector": {"matchLabels": {"canary": "true"}}, "soak": "12h"},
                          {"name": "eu", "selector": {"names": ["*-eu-*"]}, "soak": "6h"},
                          {"name": "rest"}],
                "maxConcurrentClusters": 3, "maxFailures": 1}})),
    "staging": (
        "unchanged",
        _policy("staging", {
            "priority": 50,
            "selector": {"matchLabels": {"env": "staging"}},
            "target": {"version": "latest"},
            "path": "patch-first-then-minor",
            "nodePools": {"upgrade": "skip-level", "strategy": "blue-green", "maxSurge": 1, "maxUnavailable": 0,
                          "blueGreen": {"batchPercentage": "50%", "batchSoak": "10m", "nodePoolSoak": "30m"}},
            "maintenance": {"timezone": "America/New_York",
                            "windows": [{"days": ["Mon", "Tue", "Wed", "Thu"], "start": "20:00", "duration": "6h"}]},
            "rollout": {"maxConcurrentClusters": 10, "maxFailures": 3}})),
    "dev-default": (
        "unchanged",
        _policy("dev-default", {
            "priority": 0,
            "selector": {"matchLabels": {"env": "dev"}},
            "target": {"version": "latest"},
            "nodePools": {"maxSurge": "50%", "maxUnavailable": "10%"},
            "maintenance": {"timezone": "UTC",
                            "windows": [{"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "start": "22:00",
                                         "duration": "8h"}]},
            "rollout": {"maxConcurrentClusters": 20, "maxFailures": 5}})),
    "platform-monthly": (
        "windows on Tuesday, Thursday and Saturday (the example: the first Saturday of the month), three clusters "
        "at a time (the example: two) and the pinned minor 1.35 (the example: 1.31), to match the demo's fleet",
        _policy("platform-monthly", {
            "priority": 80,
            "selector": {"providers": ["capi", "kops"]},
            "target": {"version": "1.35"},
            "path": "minor-by-minor",
            "nodePools": {"maxSurge": 1, "maxUnavailable": 0},
            "maintenance": {
                "timezone": "UTC",
                "windows": [{"rrule": "FREQ=WEEKLY;BYDAY=TU,TH,SA", "start": "06:00", "duration": "10h"}],
                "exclusions": [{"name": "summer-freeze", "start": "2027-07-01T00:00:00Z",
                                "end": "2027-08-31T00:00:00Z", "scope": "no-minor-upgrades"}]},
            "rollout": {"maxConcurrentClusters": 3}})),
}

# the fields of each policy that differ from its example (tests/demo compares everything else)
ADAPTED: dict[str, tuple[str, ...]] = {
    "production": ("spec.maintenance.windows", "spec.rollout.waves.soak"),
    "staging": (),
    "dev-default": (),
    "platform-monthly": ("spec.maintenance.windows", "spec.target.version", "spec.rollout.maxConcurrentClusters"),
}


def _dump(doc: dict[str, Any], header: str) -> str:
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return lines + yaml.safe_dump(doc, sort_keys=False, width=110)


def write_policies(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (why, doc) in POLICIES.items():
        p = folder / f"{name}.yaml"
        header = f"From policies/examples/{name}.yaml; for the demo: {why}."
        p.write_text(_dump(doc, header), encoding="utf-8")
        out.append(p)
    return out


def write_token(path: Path) -> str:
    token = secrets.token_urlsafe(24)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token


def fleet_config(providers: list[dict[str, Any]], listen: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "FleetConfig", "metadata": {"name": "fleet-demo"},
            "spec": {"providers": providers, "policies": "policies",
                     "state": {"url": "sqlite:///state/fleet.db", "create": True},
                     "reconcileInterval": RECONCILE_INTERVAL,
                     "http": {"listen": listen, "tokenFile": "api-token"}}}


def write_workspace(directory: Path, providers: list[dict[str, Any]], listen: str) -> Path:
    """Write fleet.yaml, policies/ and the API token into ``directory``; returns the FleetConfig's path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state").mkdir(exist_ok=True)
    write_policies(directory / "policies")
    write_token(directory / "api-token")
    cfg = directory / "fleet.yaml"
    header = ("The demo's FleetConfig: every provider points at a local emulator started by `fleet demo`.\n"
              "For real clouds keep the policies and replace each provider's settings (see docs/demo.md).")
    cfg.write_text(_dump(fleet_config(providers, listen), header), encoding="utf-8")
    return cfg
