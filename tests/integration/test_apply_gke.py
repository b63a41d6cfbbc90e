"""`fleet apply --config` end to end against the GKE emulator (container.googleapis.com v1 REST) in this
process.

One cluster with two node pools goes patch first (1.28.3 -> 1.28.9) then 1.29 and 1.30, the control plane
first and both pools after it each time. The policy asks for blue-green node-pool upgrades with batches
and soaks: GKE must receive ``strategy: BLUE_GREEN`` with that ``blueGreenSettings`` on every node-pool
upgrade; `fleet plan` warns that blue-green ignores maxSurge/maxUnavailable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.gke.emulator.server import GkeEmulator
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

PROJECT = "shop-prod"
LOCATION = "europe-west1"
CLUSTER = "shop"
CID = f"gke/{LOCATION}/{CLUSTER}"
SEED = "1.28.3-gke.1286000"
VERSIONS = [SEED, "1.28.9-gke.1069000", "1.29.8-gke.1211000", "1.30.4-gke.1348000"]
POOLS = ("default-pool", "batch")
BLUE_GREEN = {"standardRolloutPolicy": {"batchNodeCount": 2, "batchSoakDuration": "60s"},
              "nodePoolSoakDuration": "120s"}


@pytest.fixture
def gke() -> Iterator[GkeEmulator]:
    # emulated: master 8 min; blue-green pool of 3 nodes in batches of 2: 1 + 2 x (1 + 1 soak) + 2 soak
    # = 7 min (x600: under a second, so each operation is over by fleet's first poll)
    emu = GkeEmulator(scaled_clock(), master_seconds=480, node_seconds=60)
    emu.start()
    emu.set_versions(VERSIONS, project=PROJECT, location=LOCATION)
    emu.add_cluster(CLUSTER, SEED, {p: {"version": SEED, "nodes": 3} for p in POOLS}, project=PROJECT,
                    location=LOCATION, labels={"team": "shop"})
    yield emu
    emu.stop()


def test_gke_patch_first_then_two_minors_with_blue_green_settings(gke, tmp_path):
    settings = {"projects": [PROJECT], "endpoint": gke.url, "credentials": "anonymous", "timeoutSeconds": 5,
                "pollIntervalSeconds": 1}
    cfg = write_cloud_fleet(tmp_path, ptype="gke", settings=settings, target="1.30", node_pools={
        "strategy": "blue-green",
        "blueGreen": {"batchNodeCount": 2, "batchSoak": "1m", "nodePoolSoak": "2m"}})
    env = clean_env(tmp_path / "home")

    cp = planned(plan_json(cfg, env), CID)
    assert cp["status"] == "needs-upgrade", cp["reasons"]
    expected = [step for v in VERSIONS[1:] for step in [("cp", v)] + [(p, v) for p in POOLS]]
    assert step_keys(cp) == expected
    assert any("BLUE_GREEN ignores maxSurge/maxUnavailable" in w for w in cp["warnings"]), cp["warnings"]
    assert gke.upgrade_log == []                                 # planning changed nothing

    r = apply(cfg, env)
    assert "run-done" in r.stdout

    log = gke.upgrades_for(LOCATION, CLUSTER, PROJECT)
    got = [("cp" if e["type"] == "UPGRADE_MASTER" else e["nodePool"], e["version"]) for e in log]
    assert got == expected
    assert len(set(got)) == len(got)                             # no upgrade was issued twice
    writes = [q for q in gke.log if q.method in ("POST", "PUT")]
    assert [(q.method, q.path.endswith(":updateMaster")) for q in writes] == [
        ("POST", True) if k == "cp" else ("PUT", False) for k, _ in expected]     # not even a refused one
    assert [e["requested"] for e in log] == [v for _, v in expected]      # exact versions, never aliases
    for e in log:
        if e["type"] == "UPGRADE_MASTER":
            assert e["upgradeSettings"] is None
        else:
            assert e["upgradeSettings"] == {"strategy": "BLUE_GREEN", "blueGreenSettings": BLUE_GREEN}, e
    c = gke.cluster(PROJECT, LOCATION, CLUSTER)
    assert c.current_master_version == VERSIONS[-1]
    assert {p.name: p.version for p in c.node_pools} == dict.fromkeys(POOLS, VERSIONS[-1])
    assert gke.running() == []

    assert_run_done(cfg, env, CID)
    assert planned(plan_json(cfg, env), CID)["status"] == "up-to-date"


def test_gke_autopilot_gets_control_plane_steps_only_and_its_nodes_follow(tmp_path):
    """Autopilot: GKE refuses every node-pool call ("Autopilot node pools cannot be accessed or modified.")
    and upgrades the nodes after the control plane. fleet plans and sends control-plane steps only."""
    emu = GkeEmulator(scaled_clock(), master_seconds=480, node_seconds=60)
    emu.start()
    try:
        emu.set_versions(VERSIONS, project=PROJECT, location=LOCATION, channels={"REGULAR": VERSIONS})
        emu.add_cluster("auto", SEED, {"default-pool": SEED, "nap-e2-standard": SEED}, project=PROJECT,
                        location=LOCATION, autopilot=True)
        settings = {"projects": [PROJECT], "endpoint": emu.url, "credentials": "anonymous", "timeoutSeconds": 5,
                    "pollIntervalSeconds": 1}
        cfg = write_cloud_fleet(tmp_path, ptype="gke", settings=settings, target="1.30",
                                node_pools={"maxSurge": 2, "maxUnavailable": 0})
        env = clean_env(tmp_path / "home")
        cid = f"gke/{LOCATION}/auto"
        cp = planned(plan_json(cfg, env), cid)
        assert cp["status"] == "needs-upgrade", cp["reasons"]
        assert step_keys(cp) == [("cp", v) for v in VERSIONS[1:]]

        r = apply(cfg, env)
        assert "run-done" in r.stdout, r.stdout + r.stderr
        assert [q.method for q in emu.log if q.method in ("POST", "PUT")] == ["POST"] * 3   # no node-pool call
        c = emu.cluster(PROJECT, LOCATION, "auto")
        assert c.current_master_version == VERSIONS[-1]
        assert {p.version for p in c.node_pools} == {VERSIONS[-1]}
        assert_run_done(cfg, env, cid)
    finally:
        emu.stop()
