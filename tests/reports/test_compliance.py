"""Table tests of the status classification, its precedence, end-of-support boundaries and the risk list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleet.reports.compliance import (
    PRECEDENCE,
    STATUSES,
    Membership,
    compute_cluster,
    compute_pool_range,
    compute_report,
)

from .helpers import AT, CF, FakeForecast, lifecycle, plan_of, planned

LC = lifecycle()
ACTIVE = Membership("run-1", "active")
FAILED = Membership("run-1", "failed", "provider said no")

STATUS_CASES = [
    # (case, planned cluster, membership, expected status)
    ("at target", planned("1.34.2"), None, "compliant"),
    ("ahead of target", planned("1.34.2", status="ahead", target="1.33.1"), None, "compliant"),
    ("control-plane patch", planned("1.34.2", status="needs-upgrade", target="1.34.5", steps=[("1.34.2", "1.34.5", None)]),
     None, "behind-patch"),
    ("pool patch only", planned("1.34.5", status="needs-upgrade", pools={"a": "1.34.2"},
                                steps=[("1.34.2", "1.34.5", "a")]), None, "behind-patch"),
    ("control-plane minor", planned("1.34.2", status="needs-upgrade", target="1.35.1",
                                    steps=[("1.34.2", "1.35.1", None)]), None, "behind-minor"),
    ("pool minor below target", planned("1.35.1", status="needs-upgrade", pools={"a": "1.34.2"},
                                        steps=[("1.34.2", "1.35.1", "a")]), None, "behind-minor"),
    ("pool 4 minors behind", planned("1.34.2", pools={"a": "1.30.1"}), None, "skew-violation"),
    ("pool newer than control plane", planned("1.34.2", pools={"a": "1.35.0"}), None, "skew-violation"),
    ("pool 3 minors behind is allowed", planned("1.34.2", pools={"a": "1.31.9"}), None, "compliant"),
    ("past standard, in extended", planned("1.32.4"), None, "end-of-standard-support"),
    ("upstream calendar past standard", planned("v1.30.4", provider="oke"), None, "end-of-extended-support"),
    ("gke past standard, extended unknown", planned("1.33.5-gke.100", provider="gke"), None, "end-of-standard-support"),
    ("no policy", planned("1.34.2", status="unmanaged", policy=None, target=None), None, "unmanaged"),
    ("planner blocked", planned("1.34.2", status="blocked", reasons=["target 1.36 is not offered"]), None, "blocked"),
    ("run membership blocked", planned("1.34.2"), Membership("r", "blocked"), "blocked"),
    ("run active", planned("1.34.2", status="needs-upgrade", target="1.35.1", steps=[("1.34.2", "1.35.1", None)]),
     ACTIVE, "upgrading"),
    ("run failed", planned("1.34.2"), FAILED, "failed"),
    ("run pending is not upgrading", planned("1.34.2"), Membership("r", "pending"), "compliant"),
    ("run done", planned("1.34.2"), Membership("r", "done"), "compliant"),
    ("minor missing from data", planned("1.36.1"), None, "compliant"),
    ("provider missing from data", planned("1.30.1", provider="onprem"), None, "compliant"),
    # precedence
    ("failed beats out of support", planned("v1.30.4", provider="oke"), FAILED, "failed"),
    ("upgrading beats skew", planned("1.34.2", pools={"a": "1.30.1"}), ACTIVE, "upgrading"),
    ("out of support beats skew", planned("v1.30.4", provider="oke", pools={"a": "v1.26.1"}), None,
     "end-of-extended-support"),
    ("skew beats blocked", planned("1.34.2", status="blocked", pools={"a": "1.30.1"}), None, "skew-violation"),
    ("end of standard beats unmanaged", planned("1.32.4", status="unmanaged", policy=None), None,
     "end-of-standard-support"),
    ("blocked beats unmanaged-like membership", planned("1.34.2", status="blocked"), Membership("r", "pending"), "blocked"),
]


@pytest.mark.parametrize(("case", "cp", "membership", "want"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_status(case, cp, membership, want):
    c = compute_cluster(cp, LC, AT, membership)
    assert c.status == want, c.reasons


def test_every_status_is_covered_and_precedence_is_complete():
    assert {c[3] for c in STATUS_CASES} == set(STATUSES)
    assert sorted(PRECEDENCE) == sorted(STATUSES)


def test_reasons_list_every_condition_in_precedence_order():
    c = compute_cluster(planned("v1.30.4", provider="oke", pools={"a": "v1.26.1"}), LC, AT, FAILED)
    assert c.status == "failed"
    assert c.reasons[0] == "run run-1: failed: provider said no"
    assert "support ended 2025-07-15" in c.reasons[1]
    assert "4 minors behind" in c.reasons[2]


BOUNDARIES = [
    # eks 1.33: standard support ends 2026-08-21 (the first day without it)
    ("1.33.4", datetime(2026, 8, 20, 23, 59, 59, tzinfo=UTC), "compliant", 1),
    ("1.33.4", datetime(2026, 8, 21, 0, 0, tzinfo=UTC), "end-of-standard-support", 0),
    ("1.33.4", datetime(2026, 8, 21, 1, 0, tzinfo=timezone(timedelta(hours=2))), "compliant", 1),  # 23:00 UTC
    ("1.33.4", datetime(2026, 8, 22, 0, 0, tzinfo=UTC), "end-of-standard-support", -1),
    # eks 1.31: extended support ends 2026-11-26
    ("1.31.2", datetime(2026, 11, 25, 23, 59, tzinfo=UTC), "end-of-standard-support", -364),
    ("1.31.2", datetime(2026, 11, 26, 0, 0, tzinfo=UTC), "end-of-extended-support", -365),
]


@pytest.mark.parametrize(("version", "at", "want", "days_std"), BOUNDARIES)
def test_end_of_support_boundaries(version, at, want, days_std):
    c = compute_cluster(planned(version), LC, at)
    assert (c.status, c.days_to_standard) == (want, days_std)


def test_days_and_unknown_support():
    c = compute_cluster(planned("1.34.2"), LC, AT)
    assert (c.days_to_standard, c.days_to_extended) == ((datetime(2026, 12, 2) - datetime(2026, 8, 20)).days,
                                                        (datetime(2027, 12, 2) - datetime(2026, 8, 20)).days)
    upstream = compute_cluster(planned("v1.34.1", provider="oke"), LC, AT)
    assert upstream.support.provider == "kubernetes"
    assert upstream.days_to_extended == upstream.days_to_standard  # no extended support upstream
    gke = compute_cluster(planned("1.34.1-gke.1", provider="gke"), LC, AT)
    assert gke.days_to_standard is not None and gke.days_to_extended is None  # unknown, never guessed
    missing = compute_cluster(planned("1.36.1"), LC, AT)
    assert not missing.support.known and missing.days_to_standard is None
    assert any("no lifecycle data for eks 1.36" in r for r in missing.reasons)


def test_pool_range_orders_versions_not_strings():
    assert compute_pool_range({"a": "1.9.0", "b": "1.10.1", "c": "1.10.0", "d": "junk"}) == ("1.9.0", "1.10.1")
    assert compute_pool_range({}) == (None, None)


def _risk_case(cp, completion, horizon_days=365):
    fc = FakeForecast({cp.id: CF(completion)})
    rep = compute_report(plan_of(cp), LC, AT, forecast=fc, horizon=timedelta(days=horizon_days))
    return rep.risks[0] if rep.risks else None


MOVING = dict(status="needs-upgrade", target="1.34.2", steps=[("1.33.4", "1.34.2", None)])
RISKS = [
    ("done before end of standard", planned("1.33.4", **MOVING), datetime(2026, 8, 20, 18, tzinfo=UTC), 365, None, None),
    ("done after end of standard", planned("1.33.4", **MOVING), datetime(2026, 9, 1, 3, tzinfo=UTC), 365,
     "completes-after-end-of-standard-support", 11),
    ("done after end of extended", planned("1.33.4", **MOVING), datetime(2027, 8, 1, tzinfo=UTC), 365,
     "completes-after-end-of-extended-support", 345),
    ("no completion", planned("1.33.4", **MOVING), None, 365, "no-forecast", None),
    ("at a target leaving support", planned("1.33.4"), None, 365, "no-upgrade-planned", None),
    ("support ends beyond the horizon", planned("1.35.1", status="needs-upgrade", target="1.35.2",
                                                steps=[("1.35.1", "1.35.2", None)]), None, 90, None, None),
    ("support ends within the horizon", planned("1.35.1", status="needs-upgrade", target="1.35.2",
                                                steps=[("1.35.1", "1.35.2", None)]), None, 365, "no-forecast", None),
    ("unknown support is never a risk", planned("1.36.1", status="unmanaged", policy=None), None, 365, None, None),
]


@pytest.mark.parametrize(("case", "cp", "completion", "horizon", "reason", "late"), RISKS, ids=[r[0] for r in RISKS])
def test_risk(case, cp, completion, horizon, reason, late):
    r = _risk_case(cp, completion, horizon)
    assert (r.reason if r else None, r.days_late if r else None) == (reason, late)


def test_report_summary():
    cps = [planned("1.34.2", cid="a"), planned("1.32.4", cid="b"), planned("1.32.9", cid="c"),
           planned("v1.30.4", provider="oke", cid="d"), planned("1.36.0", cid="e"),
           planned("1.33.4", cid="f", **MOVING)]
    w0, w1 = datetime(2026, 8, 22, tzinfo=UTC), datetime(2026, 8, 25, tzinfo=UTC)
    fc = FakeForecast({"f": CF(w1, "canary")}, fleet_done=w1, waves={"later": (None, None), "canary": (w0, w1)},
                      notes=["wave x assumed approved", "wave x assumed approved"])
    rep = compute_report(plan_of(*cps), LC, AT, forecast=fc, memberships={"a": ACTIVE})
    assert rep.counts == {s: 0 for s in STATUSES} | {"upgrading": 1, "end-of-standard-support": 2,
                                                      "end-of-extended-support": 1, "compliant": 1, "behind-minor": 1}
    assert [(v.minor, v.clusters, v.support) for v in rep.versions["eks"]] == [
        ("1.32", 2, "extended"), ("1.33", 1, "standard"), ("1.34", 1, "standard"), ("1.36", 1, "unknown")]
    assert [(v.minor, v.support) for v in rep.versions["oke"]] == [("1.30", "unsupported")]
    assert rep.lifecycle_unknown == 1
    assert [w[0] for w in rep.forecast.waves] == ["canary", "later"]  # unstarted waves last
    assert rep.notes == ["wave x assumed approved"]
    f = next(c for c in rep.clusters if c.id == "f")
    assert (f.forecast_completion, f.wave, f.at_risk) == (w1, "canary", True)
    assert [r.cluster for r in rep.risks] == ["d", "b", "c", "f", "a"]  # sorted by end of standard support
    assert next(r for r in rep.risks if r.cluster == "a").reason == "no-forecast"  # upgrading, no completion
    assert next(r for r in rep.risks if r.cluster == "d").reason == "no-upgrade-planned"


def test_stale_lifecycle_data_is_noted():
    rep = compute_report(plan_of(planned()), LC, datetime(2027, 6, 1, tzinfo=UTC))
    assert any("lifecycle data is 304 days old" in n for n in rep.notes)
    assert compute_report(plan_of(planned()), LC, AT).notes == []
