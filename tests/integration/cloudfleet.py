"""Plumbing for the cloud end-to-end tests: a FleetConfig and one UpgradePolicy pointing at an emulator that
runs in this test process, and the INSTALLED ``fleet`` command run as a subprocess (argv lists, timeouts).

Time: the emulator runs on a :class:`ScaledClock` (``SCALE`` emulated seconds per real second, so a
"10 minute" control-plane upgrade takes one real second) while ``fleet`` runs on the wall clock with a one
second reconcile interval. Operation durations are chosen so each operation has finished by the engine's
first poll (one reconcile interval after dispatch): a poll answered "still running" would suggest a wait in
the emulator's (scaled) seconds, which the fleet process takes as real ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fleet.clock import ScaledClock, SystemClock

FLEET = shutil.which("fleet") or "fleet"
SCALE = 600.0                 # emulated seconds per real second
APPLY_TIMEOUT = 80.0          # seconds one `fleet apply` may take before the test fails
_CLOUD_ENV = ("AWS_", "GOOGLE_", "GCLOUD", "CLOUDSDK_", "AZURE_", "MSI_", "IDENTITY_")


def scaled_clock() -> ScaledClock:
    return ScaledClock(SystemClock().now(), SCALE)


def write_cloud_fleet(d: Path, *, ptype: str, settings: Mapping[str, Any], target: str,
                      node_pools: Mapping[str, Any], name: str | None = None) -> Path:
    """``d/fleet.yaml`` with one provider (named like its type) and ``d/policies/e2e.yaml``: no maintenance
    windows, the given ``nodePools`` budget, state in ``d/state/fleet.db``."""
    name = name or ptype
    (d / "policies").mkdir(parents=True, exist_ok=True)
    policy = {"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy",
              "metadata": {"name": f"{name}-e2e"},
              "spec": {"selector": {"providers": [name]}, "target": {"version": target},
                       "path": "patch-first-then-minor", "nodePools": dict(node_pools),
                       "rollout": {"maxConcurrentClusters": 1, "maxFailures": 1}}}
    (d / "policies" / "e2e.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    config = {"apiVersion": "fleet.dev/v1alpha1", "kind": "FleetConfig", "metadata": {"name": f"{name}-e2e"},
              "spec": {"providers": [{"name": name, "type": ptype, "settings": dict(settings)}],
                       "policies": "policies", "state": {"url": "sqlite:///state/fleet.db", "create": True},
                       "reconcileInterval": "1s"}}
    cfg = d / "fleet.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    return cfg


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any cloud credentials or settings, HOME in ``home`` (so no
    ~/.aws, ~/.azure or gcloud configuration is read), and no proxy for 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_CLOUD_ENV)}
    home.mkdir(parents=True, exist_ok=True)
    env.update({"HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                "AWS_CONFIG_FILE": str(home / "no-aws-config"), "AWS_EC2_METADATA_DISABLED": "true"})
    env.update(extra)
    return env


def fleet(*args: str, env: Mapping[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLEET, *args], capture_output=True, text=True, timeout=timeout, env=dict(env),
                          check=False)


def plan_json(cfg: Path, env: Mapping[str, str]) -> dict[str, Any]:
    r = fleet("plan", "--config", str(cfg), "--format", "json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def apply(cfg: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    r = fleet("apply", "--config", str(cfg), "--timeout", str(int(APPLY_TIMEOUT - 10)), env=env,
              timeout=APPLY_TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def status_json(cfg: Path, env: Mapping[str, str]) -> dict[str, Any]:
    r = fleet("status", "--config", str(cfg), "--format", "json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def assert_run_done(cfg: Path, env: Mapping[str, str], cluster_id: str) -> None:
    """`fleet status` shows one finished run with the cluster done, and no open steps."""
    st = status_json(cfg, env)
    assert [r["status"] for r in st["runs"]] == ["done"], st
    assert [(c["cluster"], c["status"]) for c in st["runs"][0]["clusters"]] == [(cluster_id, "done")], st
    assert st["openSteps"] == []


def planned(plan: dict[str, Any], cluster_id: str) -> dict[str, Any]:
    by_id = {c["id"]: c for c in plan["clusters"]}
    assert cluster_id in by_id, sorted(by_id)
    return by_id[cluster_id]


def step_keys(cluster_plan: dict[str, Any]) -> list[tuple[str, str]]:
    """The planned steps as (``cp`` or the pool name, target version)."""
    return [("cp" if s["component"] == "control-plane" else s["pool"], s["to"])
            for s in cluster_plan["steps"]]
