"""Write a small simulated fleet (inventory, policy, FleetConfig) into a folder, for CLI and daemon tests."""

from __future__ import annotations

import socket
from pathlib import Path

INVENTORY = """apiVersion: fleet.dev/v1alpha1
kind: Inventory
offers:
  eks: ["1.28.3", "1.28.9", "1.29.8", "1.30.4"]
clusters:
{clusters}
"""

POLICY = """apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: all
spec:
  target:
    version: "1.30"
  nodePools:
    maxSurge: 1
    maxUnavailable: 0
  rollout:
    maxConcurrentClusters: {concurrency}
    maxFailures: 2
"""

CONFIG = """apiVersion: fleet.dev/v1alpha1
kind: FleetConfig
metadata:
  name: test
spec:
  providers:
    - name: sim
      type: sim
      settings:
        inventory: inventory.yaml
        stateFile: sim-world.json
        controlPlaneDuration: {cp}
        nodePoolDuration: {pool}
  policies: policies
  state:
    url: {state}
    create: true
  reconcileInterval: {interval}
  http:
    listen: 127.0.0.1:{port}
    tokenFile: token
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_fleet(d: Path, *, n: int = 3, concurrency: int = 2, cp: str = "1s", pool: str = "1s",
                interval: str = "1s", state: str = "sqlite:///state/fleet.db", token: str = "s3cr3t-canary-token",
                port: int | None = None) -> Path:
    (d / "policies").mkdir(parents=True, exist_ok=True)
    clusters = "\n".join(
        f"  - {{provider: eks, location: lab, name: c{i}, labels: {{env: test}}, controlPlane: \"1.28.3\", "
        f"nodePools: [{{name: ng, version: \"1.28.3\", nodes: 2}}]}}" for i in range(n))
    (d / "inventory.yaml").write_text(INVENTORY.format(clusters=clusters))
    (d / "policies" / "all.yaml").write_text(POLICY.format(concurrency=concurrency))
    (d / "token").write_text(token + "\n")
    cfg = d / "fleet.yaml"
    cfg.write_text(CONFIG.format(cp=cp, pool=pool, state=state, interval=interval, port=port or free_port()))
    return cfg
