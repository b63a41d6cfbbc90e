"""Shared plumbing for the emulator end-to-end tests: write a FleetConfig and one UpgradePolicy for a single
cloud provider into a folder, and run the INSTALLED ``fleet`` command against it (argv lists, timeouts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.integration.fleetfiles import free_port

FLEET = shutil.which("fleet") or "fleet"
APPLY_TIMEOUT = 75.0          # seconds one `fleet apply` may take before the test fails


def write_cloud_fleet(d: Path, *, provider: str, ptype: str, settings: Mapping[str, Any], target: str,
                      node_pools: Mapping[str, Any] | None = None, concurrency: int = 2, max_failures: int = 2,
                      path: str = "patch-first-then-minor", interval: str = "1s") -> Path:
    """A FleetConfig with one provider and one policy (selecting that provider) moving it to ``target``."""
    (d / "policies").mkdir(parents=True, exist_ok=True)
    policy = {"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": f"{provider}-e2e"},
              "spec": {"selector": {"providers": [provider]}, "target": {"version": target}, "path": path,
                       "nodePools": dict(node_pools or {"maxSurge": 1, "maxUnavailable": 0}),
                       "rollout": {"maxConcurrentClusters": concurrency, "maxFailures": max_failures}}}
    (d / "policies" / "e2e.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    config = {"apiVersion": "fleet.dev/v1alpha1", "kind": "FleetConfig", "metadata": {"name": f"{provider}-e2e"},
              "spec": {"providers": [{"name": provider, "type": ptype, "settings": dict(settings)}],
                       "policies": "policies", "state": {"url": "sqlite:///state/fleet.db", "create": True},
                       "reconcileInterval": interval, "http": {"listen": f"127.0.0.1:{free_port()}"}}}
    cfg = d / "fleet.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    return cfg


def fleet(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the installed ``fleet`` with ``args``; ``env`` is added to this process's environment."""
    full = {**os.environ, **(env or {})}
    return subprocess.run([FLEET, *args], capture_output=True, text=True, timeout=timeout, env=full, check=False)


def apply(cfg: Path, *, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return fleet("apply", "--config", str(cfg), "--timeout", str(APPLY_TIMEOUT - 5), env=env, timeout=APPLY_TIMEOUT)


def status(cfg: Path, *, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    r = fleet("status", "--config", str(cfg), "--format", "json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def history(cfg: Path, cluster_id: str, *, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    r = fleet("history", "--config", str(cfg), cluster_id, "--format", "json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def run_clusters(st: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Cluster id -> its row in the (only) run of ``fleet status --format json``."""
    out: dict[str, dict[str, Any]] = {}
    for run in st["runs"]:
        for c in run["clusters"]:
            out[c["cluster"]] = c
    return out


def dispatched_steps(events: list[dict[str, Any]]) -> list[str]:
    return [e["step_key"] for e in events if e["kind"] == "step-dispatched"]
