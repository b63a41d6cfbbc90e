"""forecast_fleet: completion instants derived by hand from the documented step durations, windows, waves,
soaks and concurrency; and the same forecast whether the engine's state is in memory or in SQLite."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, NodePool
from fleet.reports.forecast import forecast_fleet

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)    # a Monday
OFFERED = ("1.29.2", "1.29.8", "1.30.0", "1.30.4")
OFFERED_28 = ("1.28.9",) + OFFERED
M = timedelta(minutes=1)


def pol(name: str = "p", **spec) -> UpgradePolicy:
    body = {"target": {"version": "1.30"}, "nodePools": {"maxSurge": 1, "maxUnavailable": 0}}
    body.update(spec)
    return UpgradePolicy.model_validate({"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy",
                                         "metadata": {"name": name}, "spec": body})


def eks(name: str, cp: str = "1.30.0", nodes: int = 1, **labels: str) -> Cluster:
    return Cluster(provider="eks", location="eu-west-1", name=name, control_plane=cp,
                   node_pools=(NodePool("ng", cp, nodes),), labels=labels, available=OFFERED)


NIGHTS = {"timezone": "UTC", "windows": [{"days": ["Sat"], "start": "02:00", "duration": "4h"}]}

# EKS defaults: control plane 40 min, node pool 12 min per batch of maxSurge+maxUnavailable nodes; every
# wake-up is rounded up to the 5-minute grid. One patch step on the control plane, then one on the pool.
CASES = [
    ("one cluster, always open", [pol()], [eks("a")], {"a": T0 + 40 * M + 12 * M}),   # 52 min -> 55 on the grid
    ("pool of 3 nodes, surge 1: three batches", [pol()], [eks("a", nodes=3)], {"a": T0 + 40 * M + 36 * M}),
    ("window on Saturday 02:00", [pol(maintenance=NIGHTS)], [eks("a")],
     {"a": datetime(2026, 1, 10, 2, 55, tzinfo=UTC)}),
    ("one at a time", [pol(rollout={"maxConcurrentClusters": 1})], [eks("a"), eks("b"), eks("c")],
     {"a": T0 + 55 * M, "b": T0 + 110 * M, "c": T0 + 165 * M}),
    ("canary wave, then a day of soak", [pol(rollout={"waves": [
        {"name": "canary", "selector": {"matchLabels": {"ring": "0"}}, "soak": "24h"},
        {"name": "rest"}]})], [eks("a", ring="0"), eks("b", ring="1")],
     {"a": T0 + 55 * M, "b": T0 + 55 * M + timedelta(hours=24) + 55 * M}),
    ("patch first, then the minor", [pol()], [eks("a", cp="1.29.2")],
     {"a": T0 + 55 * M + 55 * M}),   # 1.29.8 then 1.30.4: control plane and pool, twice
]


def _grid(t: datetime) -> datetime:
    return T0 + -(-(t - T0) // (5 * M)) * (5 * M)


@pytest.mark.parametrize(("policies", "clusters", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_completion_instants(policies, clusters, want):
    fc = forecast_fleet(policies, clusters, {}, T0, horizon=timedelta(days=30))
    got = {cid.rsplit("/", 1)[-1]: c.completion for cid, c in fc.clusters.items()}
    assert got == {k: _grid(v) for k, v in want.items()}
    assert all(c.status == "completes" for c in fc.clusters.values())
    assert fc.fleet_done == max(got.values())


def test_beyond_the_horizon_is_pending_and_the_fleet_is_not_done():
    fc = forecast_fleet([pol(maintenance=NIGHTS)], [eks("a")], {}, T0, horizon=timedelta(days=3))
    (c,) = fc.clusters.values()
    assert (c.status, c.completion) == ("pending", None) and fc.fleet_done is None


def _mixed_fleet(n: int) -> tuple[list[UpgradePolicy], list[Cluster]]:
    rng = random.Random(3)
    policies = [
        pol("prod", selector={"matchLabels": {"env": "prod"}}, maintenance=NIGHTS,
            rollout={"maxConcurrentClusters": 3, "waves": [
                {"name": "canary", "selector": {"matchLabels": {"ring": "0"}}, "soak": "48h", "approval": "required"},
                {"name": "rest"}]}),
        pol("dev", selector={"matchLabels": {"env": "dev"}}, target={"version": "latest"},
            maintenance={"timezone": "Europe/Berlin", "windows": [
                {"days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "22:00", "duration": "3h"}]},
            rollout={"maxConcurrentClusters": 4}),
    ]
    clusters = []
    for i in range(n):
        cp = rng.choice(("1.29.2", "1.29.8", "1.30.0"))
        env = rng.choice(("prod", "dev", "dev"))
        clusters.append(Cluster(provider=rng.choice(("eks", "gke", "aks")), location="x", name=f"c{i:03d}",
                                control_plane=cp, node_pools=(NodePool("a", cp, rng.randint(1, 6)),),
                                labels={"env": env, "ring": str(i % 5)}, available=OFFERED))
    return policies, clusters


def test_the_forecast_does_not_depend_on_where_the_engine_state_lives():
    policies, clusters = _mixed_fleet(40)
    a = forecast_fleet(policies, clusters, {}, T0, horizon=timedelta(days=60))
    b = forecast_fleet(policies, clusters, {}, T0, horizon=timedelta(days=60), state_url="sqlite:///{tmp}/f.db")
    assert a.ticks == b.ticks
    assert a.clusters == b.clusters
    assert (a.fleet_done, a.waves) == (b.fleet_done, b.waves)
    statuses = {c.status for c in a.clusters.values()}
    assert "completes" in statuses and a.fleet_done is not None
    assert any("assumed approved" in n for n in a.notes)


# ---- the simulation applies the cloud's rules (issue 14) --------------------------------------------------

def sim(name: str, cp: str = "1.29.2", **facts) -> Cluster:
    return Cluster(provider="sim", location="lab", name=name, control_plane=cp,
                   node_pools=(NodePool("np", cp, 1),), available=OFFERED_28, facts=facts)


def test_the_forecast_does_not_predict_success_for_a_cluster_its_cloud_will_not_upgrade():
    # a pool fleet cannot upgrade in place (e.g. OKE BASIC): blocked with the reason, never "completes"
    fc = forecast_fleet([pol()], [sim("a", blockedPools={"np": "BASIC cluster: only new nodes get it"})], {}, T0,
                        horizon=timedelta(days=30))
    (c,) = fc.clusters.values()
    assert (c.status, c.completion, c.steps_done) == ("blocked", None, 0)


def test_the_forecast_runs_skip_level_as_the_cloud_requires():
    # pools must match the control plane's minor before its next minor (EKS): the run reaches the target
    fc = forecast_fleet([pol(path="minor-by-minor", nodePools={"upgrade": "skip-level", "maxSurge": 1})],
                        [sim("a", cp="1.28.9", poolsMatchBeforeCpMinor=True)], {},
                        T0, horizon=timedelta(days=30))
    (c,) = fc.clusters.values()
    assert c.status == "completes" and c.steps_done == 4   # cp 1.29, np 1.29, cp 1.30, np 1.30
