"""Table tests: fleet budgets -> GKE UpgradeSettings, and check_step warnings (pure, no network)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fleet.provider import BlueGreen, Cluster, Component, NodePool, Step
from providers.gke.budget import check_step, compute_drain_config, compute_upgrade_settings

CLUSTER = Cluster(provider="gke", location="europe-west1", name="c", control_plane="1.30.2-gke.1",
                  node_pools=(NodePool("np", "1.30.2-gke.1", nodes=10), NodePool("zonal", "1.30.2-gke.1", nodes=6)),
                  extra={"poolZones": {"np": 1, "zonal": 3}})


def _pool(pool: str = "np", **kw) -> Step:
    return Step(Component.NODE_POOL, to="1.30.2-gke.1", from_="1.29.4-gke.1", pool=pool, **kw)


@pytest.mark.parametrize("step,expected", [
    (_pool(max_surge=2, max_unavailable=1), {"strategy": "SURGE", "max_surge": 2, "max_unavailable": 1}),
    (_pool(max_surge=1, max_unavailable=None), {"strategy": "SURGE", "max_surge": 1, "max_unavailable": 0}),
    (_pool(max_surge=None, max_unavailable=2), {"strategy": "SURGE", "max_surge": 0, "max_unavailable": 2}),
    (_pool(max_surge=3, max_unavailable=0, max_surge_spec="25%"),
     {"strategy": "SURGE", "max_surge": 3, "max_unavailable": 0}),
    (_pool(), None),                                            # no budget: the pool keeps its own settings
    (_pool(strategy="rolling", max_surge=1, max_unavailable=0),
     {"strategy": "SURGE", "max_surge": 1, "max_unavailable": 0}),
    (_pool(strategy="blue-green"), {"strategy": "BLUE_GREEN", "blue_green_settings": {"standard_rollout_policy": {}}}),
    (_pool(strategy="blue-green", blue_green=BlueGreen(batch_percentage=0.25, batch_soak_seconds=60,
                                                       node_pool_soak_seconds=3600)),
     {"strategy": "BLUE_GREEN", "blue_green_settings": {
         "standard_rollout_policy": {"batch_percentage": 0.25, "batch_soak_duration": timedelta(seconds=60)},
         "node_pool_soak_duration": timedelta(hours=1)}}),
    (_pool(strategy="blue-green", blue_green=BlueGreen(batch_node_count=2, batch_percentage=0.5)),
     {"strategy": "BLUE_GREEN", "blue_green_settings": {"standard_rollout_policy": {"batch_node_count": 2}}}),
    (Step(Component.CONTROL_PLANE, to="1.30.2-gke.1", from_="1.29.4-gke.1", max_surge=1), None),
], ids=["surge", "surge-only", "unavailable-only", "percent-resolved", "none", "unknown-strategy", "bg-default",
        "bg-percent", "bg-count-wins", "control-plane"])
def test_compute_upgrade_settings(step, expected):
    assert compute_upgrade_settings(step) == expected


def test_settings_are_valid_sdk_messages():
    import google.cloud.container_v1 as container_v1
    settings = compute_upgrade_settings(_pool(strategy="blue-green", blue_green=BlueGreen(
        batch_node_count=2, batch_soak_seconds=30, node_pool_soak_seconds=600)))
    msg = container_v1.NodePool.UpgradeSettings(**settings)
    assert msg.blue_green_settings.standard_rollout_policy.batch_node_count == 2
    assert msg.blue_green_settings.node_pool_soak_duration == timedelta(seconds=600)


@pytest.mark.parametrize("step,fragments", [
    (_pool(max_surge=2, max_unavailable=0), []),
    (_pool(max_surge=3, max_unavailable=0, max_surge_spec="25%"), ["integer maxSurge", "25% of 10 nodes is 2.5",
                                                                   "rounded to 3"]),
    (_pool(max_surge=5, max_unavailable=0, max_surge_spec="50%"), []),                 # exact: nothing to say
    (_pool(max_surge=1, max_unavailable=2, max_unavailable_spec="33%"), ["integer maxUnavailable",
                                                                         "3.3", "rounded to 2"]),
    (_pool("missing", max_surge=1, max_unavailable=0, max_surge_spec="10%"), ["resolved to 1"]),
    (_pool(max_surge=0, max_unavailable=0), ["refuses maxSurge=0 with maxUnavailable=0"]),
    (_pool("zonal", max_surge=1, max_unavailable=1), ["per zone", "3 zones", "up to 6 nodes"]),
    (_pool(max_surge=1, max_unavailable=0, drain_timeout_seconds=600), []),        # nodeDrainConfig carries it
    (_pool(max_surge=1, max_unavailable=0, node_soak_seconds=60), ["no per-node soak"]),
    (_pool(strategy="rolling", max_surge=1, max_unavailable=0), ["no node-pool strategy 'rolling'"]),
    (_pool(strategy="blue-green", blue_green=BlueGreen(batch_percentage=0.5)), []),
    (_pool(strategy="blue-green", max_surge=1, max_surge_spec="1", blue_green=BlueGreen(batch_node_count=1)),
     ["BLUE_GREEN ignores maxSurge"]),
    (_pool(strategy="blue-green", blue_green=BlueGreen(batch_node_count=2, batch_percentage=0.5)),
     ["not both", "batchNodeCount 2 is used"]),
    (_pool(strategy="blue-green", blue_green=BlueGreen(batch_percentage=1.5)), ["(0, 1]"]),
    (_pool(strategy="blue-green", blue_green=BlueGreen(batch_node_count=0)), ["at least 1"]),
    (Step(Component.CONTROL_PLANE, to="1.30.2-gke.1", from_="1.29.4-gke.1"), []),
], ids=["clean", "pct-rounded", "pct-exact", "unavail-rounded", "pct-unknown-pool", "both-zero", "zonal",
        "drain", "node-soak", "unknown-strategy", "bg-clean", "bg-surge-ignored", "bg-both", "bg-bad-pct",
        "bg-zero-count", "control-plane"])
def test_check_step_warnings(step, fragments):
    warnings = check_step(CLUSTER, step)
    if not fragments:
        assert warnings == []
    joined = " | ".join(warnings)
    for fragment in fragments:
        assert fragment in joined, joined


def test_drain_timeout_becomes_node_drain_config():
    import google.cloud.container_v1 as container_v1
    assert compute_drain_config(_pool(max_surge=1)) is None
    assert compute_drain_config(Step(Component.CONTROL_PLANE, to="1.30.2-gke.1", from_="1.29.4-gke.1",
                                     drain_timeout_seconds=60)) is None
    drain = compute_drain_config(_pool(max_surge=1, drain_timeout_seconds=900))
    assert drain == {"pdb_timeout_duration": timedelta(seconds=900)}
    msg = container_v1.UpdateNodePoolRequest(name="x", node_drain_config=drain)
    assert msg.node_drain_config.pdb_timeout_duration == timedelta(seconds=900)


def test_autopilot_pool_steps_are_flagged():
    autopilot = Cluster(provider="gke", location="europe-west1", name="a", control_plane="1.30.2-gke.1",
                        node_pools=(NodePool("np", "1.30.2-gke.1", nodes=3),), facts={"autopilot": True})
    assert any("Autopilot refuses node-pool updates" in w for w in check_step(autopilot, _pool()))
