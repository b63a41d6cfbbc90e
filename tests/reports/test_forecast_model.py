"""The forecast's step model and calibration (fleet.reports.calibration), with instants derived by hand: each
cloud's batch size (EKS: maxUnavailable only), node soak, blue-green batches and soaks, durations calibrated
from a journal (p50 likely, p90 late), and approvals shown as waiting from the instant a wave is reached.

Defaults (docs/report-format.md): EKS 40 min control plane / 12 min per node batch, GKE 25 / 8, AKS 20 / 10;
every wake-up is rounded up to the forecast's 5-minute grid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fleet.execution.model import StepRecord, StepState
from fleet.provider import Cluster, Component, NodePool, Step
from fleet.reports.accuracy import compute_accuracy
from fleet.reports.calibration import compute_calibration, observe_samples
from fleet.reports.forecast import APPROVAL_ASSUMPTION, forecast_fleet
from tests.reports.test_forecast import OFFERED, pol

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def cluster(provider: str, name: str, nodes: int, cp: str = "1.30.0", **labels: str) -> Cluster:
    return Cluster(provider=provider, location="x", name=name, control_plane=cp,
                   node_pools=(NodePool("np", cp, nodes),), labels=labels, available=OFFERED)


def done(fc, name: str) -> datetime | None:
    (c,) = [c for cid, c in fc.clusters.items() if cid.endswith("/" + name)]
    return c.completion


def test_eks_replaces_max_unavailable_nodes_at_a_time_the_others_surge_plus_unavailable():
    p = pol(nodePools={"maxSurge": 3, "maxUnavailable": 2})
    fc = forecast_fleet([p], [cluster("eks", "e", 6)], {}, T0, horizon=timedelta(days=3))
    # EKS: batches of maxUnavailable 2 (surge is not an EKS knob): 40 + 3 x 12 = 76 -> 80 on the grid
    assert done(fc, "e") == T0 + 40 * M + 3 * 12 * M + 4 * M
    # GKE: batches of surge + unavailable = 5: 25 + 2 x 8 = 41 -> 45
    fc = forecast_fleet([p], [cluster("gke", "g", 6)], {}, T0, horizon=timedelta(days=3))
    assert done(fc, "g") == T0 + 25 * M + 2 * 8 * M + 4 * M


def test_blue_green_batches_their_soaks_and_the_pool_soak():
    p = pol(nodePools={"strategy": "blue-green", "maxSurge": 1, "maxUnavailable": 0,
                       "blueGreen": {"batchPercentage": "50%", "batchSoak": "10m", "nodePoolSoak": "30m"}})
    fc = forecast_fleet([p], [cluster("gke", "g", 4)], {}, T0, horizon=timedelta(days=3))
    # control plane 25, then two batches of 2 nodes, each 8 min + 10 min soak, then the pool soaks 30 min
    assert done(fc, "g") == T0 + 25 * M + 2 * (8 + 10) * M + 30 * M + 4 * M   # 91 -> 95 on the grid


def test_node_soak_after_every_batch():
    p = pol(nodePools={"maxSurge": 1, "maxUnavailable": 0, "nodeSoak": "5m"})
    fc = forecast_fleet([p], [cluster("aks", "a", 3)], {}, T0, horizon=timedelta(days=3))
    assert done(fc, "a") == T0 + 20 * M + 3 * (10 + 5) * M               # 65: on the grid


@dataclass
class FakeStore:
    records: list[StepRecord]

    def steps(self) -> list[StepRecord]:
        return self.records


def rec(i: int, cid: str, component: Component, minutes: int, pool: str | None = None) -> StepRecord:
    step = Step(component, "1.30.4", "1.30.0", pool, max_surge=1, max_unavailable=0)
    return StepRecord(i, "r", cid, step, False, StepState.SUCCEEDED, None, 1, 1, 1, None, "", 0, T0,
                      started_at=T0, finished_at=T0 + minutes * M)


def test_calibration_from_the_journal_median_likely_p90_late():
    c = cluster("eks", "a", 3)
    journal = FakeStore([rec(1, c.id, Component.CONTROL_PLANE, 30), rec(2, c.id, Component.CONTROL_PLANE, 30),
                         rec(3, c.id, Component.CONTROL_PLANE, 50),
                         # 3 nodes, one at a time: 3 batches -> 6 and 9 minutes per batch
                         rec(4, c.id, Component.NODE_POOL, 18, "np"), rec(5, c.id, Component.NODE_POOL, 27, "np")])
    cal = compute_calibration(observe_samples(journal, {c.id: c}))
    rows = {(r["component"], r["bucket"]): (r["samples"], r["p50Minutes"], r["p90Minutes"]) for r in cal.table}
    assert rows == {("control-plane", None): (3, 30.0, 50.0), ("node-pool", "1-3"): (2, 6.0, 9.0)}
    assert "calibrated from the journal" in cal.notes()[0]
    fc = forecast_fleet([pol()], [c], {}, T0, horizon=timedelta(days=3), model=cal.likely, late_model=cal.late)
    (cf,) = fc.clusters.values()
    assert cf.completion == T0 + 30 * M + 3 * 6 * M + 2 * M          # 48 -> 50 on the grid
    assert cf.late == T0 + 50 * M + 3 * 9 * M + 3 * M                # 77 -> 80
    # a provider type without samples keeps the documented defaults
    g = cluster("gke", "g", 1)
    fc = forecast_fleet([pol()], [g], {}, T0, horizon=timedelta(days=3), model=cal.likely, late_model=cal.late)
    (cf,) = fc.clusters.values()
    assert cf.completion == cf.late == T0 + 35 * M                   # 25 + 8 = 33 -> 35


def test_a_wave_that_needs_approval_waits_from_when_it_is_reached_and_the_assumption_is_said():
    p = pol(rollout={"waves": [{"name": "canary", "selector": {"matchLabels": {"ring": "0"}}, "soak": "24h"},
                               {"name": "rest", "approval": "required"}]})
    fc = forecast_fleet([p], [cluster("eks", "a", 1, ring="0"), cluster("eks", "b", 1, ring="1")], {}, T0,
                        horizon=timedelta(days=5))
    canary_done = T0 + 55 * M                                          # 40 + 12 = 52 -> 55
    assert fc.approvals == [("p", "rest", canary_done + timedelta(hours=24))]
    assert done(fc, "b") == canary_done + timedelta(hours=24) + 55 * M
    assert fc.notes[0] == APPROVAL_ASSUMPTION
    assert any(n.startswith("p / rest waits for approval since 2026-01-06T00:55:00Z") for n in fc.notes)
    assert set(fc.waves) == {"p / canary", "p / rest"}


def test_waves_of_the_same_name_in_two_policies_are_two_lanes():
    a = pol("a", selector={"matchLabels": {"team": "a"}}, rollout={"waves": [{"name": "w"}]})
    b = pol("b", selector={"matchLabels": {"team": "b"}}, maintenance={"timezone": "UTC", "windows": [
        {"days": ["Tue"], "start": "00:00", "duration": "4h"}]}, rollout={"waves": [{"name": "w"}]})
    fc = forecast_fleet([a, b], [cluster("eks", "x", 1, team="a"), cluster("eks", "y", 1, team="b")], {}, T0,
                        horizon=timedelta(days=5))
    assert fc.waves["a / w"] == (T0, T0 + 55 * M)
    assert fc.waves["b / w"][1] == T0 + timedelta(days=1) + 55 * M
    acc = compute_accuracy(fc, {c.cluster_id: c.completion + 10 * M for c in fc.clusters.values()})
    assert acc.summary()["p50Minutes"] == 10.0 and [ln.lane for ln in acc.lanes] == ["a / w", "b / w"]
