"""Per-pool overrides reaching the cloud's knobs: through the GKE emulator (container.googleapis.com v1 REST,
the real SDK), one pool is upgraded blue-green (selected by its node labels), the others surge with the
policy's budget and a per-pool drain timeout; and offline, the same overrides on EKS and AKS become their
knobs or plan warnings (the per-provider UpgradeRules still apply)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fleet.planning.plan import step_for_provider
from fleet.planning.planner import compute_plan
from fleet.provider import Cluster, Component, NodePool, VersionOffers, type_rules
from providers.gke.emulator.server import GkeEmulator
from tests.integration.cloudfleet import (
    apply,
    assert_run_done,
    clean_env,
    plan_json,
    planned,
    scaled_clock,
    write_cloud_fleet,
)
from tests.rollout.helpers import policy

PROJECT = "shop-prod"
LOCATION = "europe-west1"
CLUSTER = "shop"
CID = f"gke/{LOCATION}/{CLUSTER}"
SEED = "1.28.3-gke.1286000"
VERSIONS = [SEED, "1.28.9-gke.1069000"]
POOLS = {"default-pool": {}, "batch": {}, "db": {"role": "stateful"}}
NODE_POOLS = {
    "maxSurge": 2, "maxUnavailable": 0,
    "overrides": [
        {"matchLabels": {"role": "stateful"}, "strategy": "blue-green",
         "blueGreen": {"batchNodeCount": 1, "batchSoak": "1m", "nodePoolSoak": "2m"}},
        {"names": ["batch"], "maxSurge": 1, "maxUnavailable": 1, "drainTimeout": "5m"},
    ]}


@pytest.fixture
def gke() -> Iterator[GkeEmulator]:
    emu = GkeEmulator(scaled_clock(), master_seconds=480, node_seconds=60)
    emu.start()
    emu.set_versions(VERSIONS, project=PROJECT, location=LOCATION)
    emu.add_cluster(CLUSTER, SEED, {p: {"version": SEED, "nodes": 3, "labels": lab} for p, lab in POOLS.items()},
                    project=PROJECT, location=LOCATION)
    yield emu
    emu.stop()


def test_gke_one_pool_blue_green_the_others_surge(gke, tmp_path):
    settings = {"projects": [PROJECT], "endpoint": gke.url, "credentials": "anonymous", "timeoutSeconds": 5,
                "pollIntervalSeconds": 1}
    cfg = write_cloud_fleet(tmp_path, ptype="gke", settings=settings, target="1.28", node_pools=NODE_POOLS)
    env = clean_env(tmp_path / "home")
    cp = planned(plan_json(cfg, env), CID)
    assert cp["status"] == "needs-upgrade", cp["reasons"]
    strategies = {s["pool"]: s["strategy"] for s in cp["steps"] if s["pool"]}
    assert strategies == {"default-pool": "surge", "batch": "surge", "db": "blue-green"}

    r = apply(cfg, env)
    assert "run-done" in r.stdout, r.stdout + r.stderr
    settings_by_pool = {e["nodePool"]: e["upgradeSettings"] for e in gke.upgrades_for(LOCATION, CLUSTER, PROJECT)
                        if e["type"] != "UPGRADE_MASTER"}
    assert settings_by_pool["db"] == {"strategy": "BLUE_GREEN", "blueGreenSettings": {
        "standardRolloutPolicy": {"batchNodeCount": 1, "batchSoakDuration": "60s"}, "nodePoolSoakDuration": "120s"}}
    assert settings_by_pool["default-pool"] == {"strategy": "SURGE", "maxSurge": 2}
    assert settings_by_pool["batch"] == {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 1}
    # the batch pool's drain timeout went out as its nodeDrainConfig, and only for that pool
    drains = {q.body.get("name", q.path).rsplit("/", 1)[-1]: q.body.get("nodeDrainConfig")
              for q in gke.log if q.method == "PUT"}
    assert drains.get("batch") == {"pdbTimeoutDuration": "300s"} and drains.get("db") is None
    c = gke.cluster(PROJECT, LOCATION, CLUSTER)
    assert {p.name: p.version for p in c.node_pools} == dict.fromkeys(POOLS, VERSIONS[-1])
    assert_run_done(cfg, env, CID)


@pytest.mark.parametrize("kind", ["eks", "aks", "oke"])
def test_overrides_offline_on_other_clouds(kind):
    """The per-provider rules still apply per pool: a knob or strategy a cloud lacks is a plan warning
    naming the pool, and the step does not carry it."""
    c = Cluster(provider=kind, location="r", name="x", control_plane="1.29.8",
                node_pools=(NodePool("web", "1.29.8", 4), NodePool("db", "1.29.8", 4, labels={"role": "stateful"})))
    pol = policy(target={"version": "1.30"}, nodePools=NODE_POOLS | {"overrides": NODE_POOLS["overrides"][:1]})
    plan = compute_plan([pol], [c], {kind: VersionOffers(("1.30.4",))}, datetime(2026, 1, 5, tzinfo=UTC),
                        rules=type_rules())
    cp = plan.clusters[0]
    pool_steps = {s.pool: s for s in cp.steps if s.component is Component.NODE_POOL}
    rules = type_rules()(c)
    from fleet.provider import PoolStrategy
    if PoolStrategy.BLUE_GREEN in rules.strategies:
        assert pool_steps["db"].strategy == "blue-green"
    else:
        assert pool_steps["db"].strategy == "surge"
        assert any("blue-green" in w and "node pool db" in w for w in cp.warnings), cp.warnings
    assert pool_steps["web"].strategy == "surge"
    web = step_for_provider(pool_steps["web"], pol.spec.node_pools)
    assert web.blue_green is None


def test_a_spot_pool_override_reaches_aks_and_eks_knobs():
    """The same override (spot-* pools: maxSurge 0, maxUnavailable 2) becomes AKS upgradeSettings and an EKS
    node group updateConfig for that pool only; the other pool keeps the policy's budget."""
    from providers.aks.budget import compute_upgrade_settings
    from providers.eks.budget import compute_update_config
    spot = {"names": ["spot-*"], "maxSurge": 0, "maxUnavailable": 2}
    pol = policy(target={"version": "1.30"}, nodePools={"maxSurge": 2, "maxUnavailable": 0, "overrides": [spot]})
    got = {}
    for kind in ("aks", "eks"):
        c = Cluster(provider=kind, location="r", name="x", control_plane="1.29.8",
                    node_pools=(NodePool("web", "1.29.8", 4), NodePool("spot-a", "1.29.8", 6)))
        plan = compute_plan([pol], [c], {kind: VersionOffers(("1.30.4",))}, datetime(2026, 1, 5, tzinfo=UTC),
                            rules=type_rules())
        steps = {s.pool: step_for_provider(s, pol.spec.node_pools) for s in plan.clusters[0].steps if s.pool}
        if kind == "aks":
            got[kind] = {p: compute_upgrade_settings(c, st)[0] for p, st in steps.items()}
        else:
            got[kind] = {p: compute_update_config(st)[0] for p, st in steps.items()}
    assert got["aks"]["spot-a"] == {"maxSurge": "0", "maxUnavailable": "2"}
    assert got["aks"]["web"]["maxSurge"] == "2"
    assert got["eks"]["spot-a"] == {"maxUnavailable": 2}
    assert got["eks"]["web"] == {"maxUnavailable": 1}      # EKS has no surge: at least 1 unavailable
