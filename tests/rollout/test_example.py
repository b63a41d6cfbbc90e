"""The README's worked example: one prod policy in three regions under a dev -> staging -> prod rollout."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fleet.planning.offline import offline_plan

REPO = Path(__file__).resolve().parents[2]


def test_worked_example_plans_stages_local_windows_and_pool_overrides():
    plan = offline_plan(REPO / "policies" / "rollout", REPO / "policies" / "inventory" / "rollout-fleet.yaml",
                        datetime(2026, 6, 1, tzinfo=UTC))
    by = {cp.name: cp for cp in plan.clusters}
    assert {n: by[n].stage for n in by} == {"dev-eu": "dev", "staging-us": "staging", "prod-fra": "prod",
                                            "prod-iad": "prod", "prod-tyo": "prod"}
    # staging may start now; prod waits for staging, in every region
    assert by["staging-us"].waits_for == ""
    for n in ("prod-fra", "prod-iad", "prod-tyo"):
        assert "stage staging" in by[n].waits_for, by[n].waits_for
    # Saturday 01:00 in each prod cluster's own zone (2026-06-06 is a Saturday)
    assert {n: (by[n].timezone, by[n].next_window.start) for n in ("prod-fra", "prod-iad", "prod-tyo")} == {
        "prod-fra": ("Europe/Berlin", datetime(2026, 6, 5, 23, 0, tzinfo=UTC)),
        "prod-iad": ("America/New_York", datetime(2026, 6, 6, 5, 0, tzinfo=UTC)),
        "prod-tyo": ("Asia/Tokyo", datetime(2026, 6, 5, 16, 0, tzinfo=UTC)),
    }
    # the stateful pool goes blue-green on GKE, beside a surge pool; AKS lacks blue-green: a warning
    fra = {s.pool: s.strategy for s in by["prod-fra"].steps if s.pool}
    assert fra == {"default": "surge", "db": "blue-green"}
    assert any("blue-green is not available on aks" in w for w in by["prod-tyo"].warnings)
    assert plan.to_dict()["rollout"]["stages"][2]["clusters"] == ["aks/japaneast/prod-tyo", "eks/us-east-1/prod-iad",
                                                                  "gke/europe-west3/prod-fra"]


def test_forecast_of_the_worked_example_has_a_lane_per_stage_in_order():
    from datetime import timedelta

    from fleet.reports.inputs import compute_forecast, observe_inputs
    at = datetime(2026, 6, 1, tzinfo=UTC)
    inputs = observe_inputs(config=None, inventory=REPO / "policies" / "inventory" / "rollout-fleet.yaml",
                            policies=REPO / "policies" / "rollout", at=at)
    assert inputs.rollout is not None and inputs.plan.rollout is not None
    fc, _ = compute_forecast(inputs, at, timedelta(days=120))
    assert fc is not None
    lanes = {n: v for n, v in fc.waves.items() if n.startswith("stage ")}
    assert set(lanes) == {"stage staging", "stage prod"}           # dev is up to date: no lane
    # prod starts only after staging finished and soaked five days
    assert lanes["stage prod"][0] >= lanes["stage staging"][1] + timedelta(days=5)
    assert {c.stage for c in fc.clusters.values()} == {"dev", "staging", "prod"}
    assert any(n.startswith("stage prod: 1.32") and "assumed approved" in n for n in fc.notes)
    assert any(n.startswith("stage prod starts 1.32") for n in fc.notes)
    assert all(c.status == "completes" for c in fc.clusters.values() if c.stage in ("staging", "prod"))
