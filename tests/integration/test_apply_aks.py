"""`fleet apply --config` end to end against the AKS (ARM) emulator in this process.

One cluster with a System and a User pool goes patch first (1.28.3 -> 1.28.9) then 1.29 and 1.30: the
control plane alone first (every pool's orchestratorVersion sent unchanged), then each agent pool. Every
agent pool PUT must carry the policy's budget as AKS knobs: ``maxSurge: "33%"`` (AKS rounds up like fleet:
passed literally), ``drainTimeoutInMinutes`` (10m30s rounded up to 11, with a plan warning) and
``nodeSoakDurationInMinutes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from providers.aks.emulator.server import AksEmulator
from tests.integration.cloudfleet import (
    apply,
    assert_run_done,
    clean_env,
    plan_json,
    planned,
    scaled_clock,
    step_keys,
    write_cloud_fleet,
)

SUBSCRIPTION = "6f1c2a9e-0d4b-4c55-9a7e-2b1f0c3d4e5f"
RESOURCE_GROUP = "rg-shop"
LOCATION = "westeurope"
CLUSTER = "shop"
CID = f"aks/{LOCATION}/{CLUSTER}"
VERSIONS = ["1.28.3", "1.28.9", "1.29.8", "1.30.4"]
POOLS = ("system", "user")
SETTINGS = {"maxSurge": "33%", "maxUnavailable": "0", "drainTimeoutInMinutes": 11,
            "nodeSoakDurationInMinutes": 1}


@pytest.fixture
def aks() -> Iterator[AksEmulator]:
    # emulated: control plane 2 min; a pool of 3 nodes, one per batch (33%): 3 x (20 s + 1 min soak) = 4 min.
    # At x600 every operation is over well before fleet's first poll (1 s after dispatch), so the emulator's
    # Retry-After (in emulated seconds) never sets fleet's (real) poll delay.
    emu = AksEmulator(scaled_clock(), control_plane_duration=timedelta(minutes=2),
                      node_batch_duration=timedelta(seconds=20), update_duration=timedelta(seconds=10))
    emu.start()
    emu.add_cluster(CLUSTER, VERSIONS[0], dict.fromkeys(POOLS, VERSIONS[0]), VERSIONS,
                    subscription=SUBSCRIPTION, resource_group=RESOURCE_GROUP, location=LOCATION, node_count=3,
                    tags={"team": "shop"})
    yield emu
    emu.stop()


def test_aks_patch_first_then_two_minors_with_surge_drain_and_soak(aks, tmp_path):
    settings = {"subscriptions": [SUBSCRIPTION], "resourceGroups": [RESOURCE_GROUP], "endpoint": aks.url,
                "timeoutSeconds": 5, "pollIntervalSeconds": 1}
    cfg = write_cloud_fleet(tmp_path, ptype="aks", settings=settings, target="1.30", node_pools={
        "maxSurge": "33%", "maxUnavailable": 0, "drainTimeout": "10m30s", "nodeSoak": "1m"})
    env = clean_env(tmp_path / "home")

    cp = planned(plan_json(cfg, env), CID)
    assert cp["status"] == "needs-upgrade", cp["reasons"]
    expected = [step for v in VERSIONS[1:] for step in [("cp", v)] + [(p, v) for p in POOLS]]
    assert step_keys(cp) == expected
    rounding = "drainTimeout: AKS takes whole minutes; 630s is rounded up to 11m"
    assert any(rounding in w for w in cp["warnings"]), cp["warnings"]
    assert aks.upgrade_log == []                                 # planning changed nothing

    r = apply(cfg, env)
    assert "run-done" in r.stdout

    log = [u for u in aks.upgrade_log if u.cluster == CLUSTER]
    got = [("cp" if u.kind == "managedCluster" else u.pool, u.to) for u in log]
    assert got == expected
    assert len(set(got)) == len(got)                             # no upgrade was issued twice
    puts = [q.path.rsplit("/", 2)[-2] for q in aks.requests if q.method == "PUT"]
    assert puts == ["managedClusters" if k == "cp" else "agentPools" for k, _ in expected]   # none refused
    for u in log:
        assert u.upgrade_settings == ({} if u.kind == "managedCluster" else SETTINGS), u
    c = aks.cluster(CLUSTER, RESOURCE_GROUP, SUBSCRIPTION)
    assert (c.version, c.state) == (VERSIONS[-1], "Succeeded")
    assert {p.name: (p.version, p.state, p.upgrade_settings) for p in c.pools.values()} == {
        p: (VERSIONS[-1], "Succeeded", SETTINGS) for p in POOLS}
    assert aks.running_operations() == []

    assert_run_done(cfg, env, CID)
    assert planned(plan_json(cfg, env), CID)["status"] == "up-to-date"
