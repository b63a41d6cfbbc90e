"""Table tests of the status classification, its precedence, end-of-support boundaries and the risk list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleet.planning.windows import Interval
from fleet.provider import Cluster, VersionOffers
from fleet.reports.compliance import (
    PRECEDENCE,
    STATUSES,
    UPGRADE_STATES,
    Membership,
    compute_cluster,
    compute_newest_offered,
    compute_pool_range,
    compute_report,
)

from .helpers import AT, CF, FakeForecast, lifecycle, plan_of, planned

LC = lifecycle()
ACTIVE = Membership("run-1", "active")
FAILED = Membership("run-1", "failed", "provider said no")
OPEN = Interval(datetime(2026, 8, 20, 10, tzinfo=UTC), datetime(2026, 8, 20, 14, tzinfo=UTC))
LATER = Interval(datetime(2026, 8, 22, 22, tzinfo=UTC), datetime(2026, 8, 23, 2, tzinfo=UTC))
NEWER = {"c1": "1.35.2", "a": "1.35.2", "b": "1.35.2", "c": "1.35.2", "d": "v1.35.0", "e": "1.36.0", "f": "1.35.2"}

STATUS_CASES = [
    # (case, planned cluster, membership, expected compliance status, expected upgrade state)
    ("at target", planned("1.34.2"), None, "compliant", "none"),
    ("ahead of target", planned("1.34.2", status="ahead", target="1.33.1"), None, "compliant", "none"),
    ("control-plane patch", planned("1.34.2", status="needs-upgrade", target="1.34.5", steps=[("1.34.2", "1.34.5", None)],
                                    window=OPEN), None, "behind-patch", "pending"),
    ("pool patch only", planned("1.34.5", status="needs-upgrade", pools={"a": "1.34.2"},
                                steps=[("1.34.2", "1.34.5", "a")], window=LATER), None, "behind-patch", "waiting-window"),
    ("control-plane minor", planned("1.34.2", status="needs-upgrade", target="1.35.1",
                                    steps=[("1.34.2", "1.35.1", None)], window=OPEN), None, "behind-minor", "pending"),
    ("needs upgrade, no window", planned("1.34.2", status="needs-upgrade", target="1.35.1",
                                         steps=[("1.34.2", "1.35.1", None)]), None, "behind-minor", "blocked"),
    ("pool minor below target", planned("1.35.1", status="needs-upgrade", pools={"a": "1.34.2"},
                                        steps=[("1.34.2", "1.35.1", "a")], window=OPEN), None, "behind-minor", "pending"),
    ("pool 4 minors behind", planned("1.34.2", pools={"a": "1.30.1"}), None, "skew-violation", "none"),
    ("pool newer than control plane", planned("1.34.2", pools={"a": "1.35.0"}), None, "skew-violation", "none"),
    ("pool 3 minors behind is allowed", planned("1.34.2", pools={"a": "1.31.9"}), None, "compliant", "none"),
    ("past standard, in extended", planned("1.32.4"), None, "end-of-standard-support", "none"),
    ("upstream calendar past standard", planned("v1.30.4", provider="oke"), None, "end-of-extended-support", "none"),
    ("gke past standard, extended unknown", planned("1.33.5-gke.100", provider="gke"), None, "end-of-standard-support",
     "none"),
    ("no policy", planned("1.34.2", status="unmanaged", policy=None, target=None), None, "unmanaged", "none"),
    ("planner blocked", planned("1.34.2", status="blocked", reasons=["target 1.36 is not offered"]), None, "compliant",
     "blocked"),
    ("planner blocked below its target", planned("1.34.2", status="blocked", target="1.35.1", reasons=["missing image"]),
     None, "behind-minor", "blocked"),
    ("run membership blocked", planned("1.34.2"), Membership("r", "blocked"), "compliant", "blocked"),
    ("gate blocks it", planned("1.34.2"), Membership("r", "blocked-by-gate", "gate slo failed"), "compliant",
     "waiting-gate"),
    ("wave waits for approval", planned("1.34.2", status="needs-upgrade", target="1.35.1",
                                        steps=[("1.34.2", "1.35.1", None)], window=OPEN),
     Membership("r", "pending", waiting="approval"), "behind-minor", "waiting-approval"),
    ("run active", planned("1.34.2", status="needs-upgrade", target="1.35.1", steps=[("1.34.2", "1.35.1", None)]),
     ACTIVE, "behind-minor", "upgrading"),
    ("run failed", planned("1.34.2"), FAILED, "compliant", "failed"),
    ("run pending is not upgrading", planned("1.34.2"), Membership("r", "pending"), "compliant", "pending"),
    ("run done", planned("1.34.2"), Membership("r", "done"), "compliant", "none"),
    ("minor missing from data", planned("1.36.1"), None, "compliant", "none"),
    ("provider missing from data", planned("1.30.1", provider="onprem"), None, "compliant", "none"),
    # independence: neither hides the other
    ("failed and out of support", planned("v1.30.4", provider="oke"), FAILED, "end-of-extended-support", "failed"),
    ("blocked and out of support (edge-lab)", planned("v1.30.4", provider="oke", status="blocked",
                                                      reasons=["node pool a: image not found"]), None,
     "end-of-extended-support", "blocked"),
    ("upgrading with skew", planned("1.34.2", pools={"a": "1.30.1"}), ACTIVE, "skew-violation", "upgrading"),
    # precedence
    ("out of support beats skew", planned("v1.30.4", provider="oke", pools={"a": "v1.26.1"}), None,
     "end-of-extended-support", "none"),
    ("skew beats unmanaged", planned("1.34.2", status="unmanaged", pools={"a": "1.30.1"}), None, "skew-violation",
     "none"),
    ("end of standard beats unmanaged", planned("1.32.4", status="unmanaged", policy=None), None,
     "end-of-standard-support", "none"),
]


@pytest.mark.parametrize(("case", "cp", "membership", "want", "state"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_status_and_upgrade_state(case, cp, membership, want, state):
    c = compute_cluster(cp, LC, AT, membership)
    assert (c.status, c.upgrade_state) == (want, state), (c.reasons, c.upgrade_reason)


def test_every_status_and_state_is_covered_and_precedence_is_complete():
    assert {c[3] for c in STATUS_CASES} == set(STATUSES)
    assert {c[4] for c in STATUS_CASES} == set(UPGRADE_STATES)
    assert sorted(PRECEDENCE) == sorted(STATUSES)


def test_reasons_list_every_condition_in_precedence_order():
    c = compute_cluster(planned("v1.30.4", provider="oke", pools={"a": "v1.26.1"}), LC, AT, FAILED)
    assert (c.status, c.upgrade_state) == ("end-of-extended-support", "failed")
    assert c.upgrade_reason == "run run-1: failed: provider said no"
    assert "support ended 2025-07-15" in c.reasons[0]
    assert "4 minors behind" in c.reasons[1]


def test_upgrade_reason_names_the_window():
    c = compute_cluster(planned("1.34.2", status="needs-upgrade", target="1.35.1", steps=[("1.34.2", "1.35.1", None)],
                                window=LATER), LC, AT)
    assert c.upgrade_reason == "next window opens 2026-08-22T22:00Z"


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


def _risk_case(cp, completion, horizon_days=365, *, forecast=True, newest="1.35.2", membership=None):
    fc = FakeForecast({cp.id: CF(completion)}) if forecast else None
    rep = compute_report(plan_of(cp), LC, AT, forecast=fc, horizon=timedelta(days=horizon_days),
                         newest_offered={cp.id: newest} if newest else None,
                         memberships={cp.id: membership} if membership else None)
    return rep


MOVING = dict(status="needs-upgrade", target="1.34.2", steps=[("1.33.4", "1.34.2", None)], window=OPEN)
RISKS = [
    # (case, cluster, forecast completion, horizon, forecast computed?, expected reason, days late)
    ("done before end of standard", planned("1.33.4", **MOVING), datetime(2026, 8, 20, 18, tzinfo=UTC), 365, True,
     None, None),
    ("done after end of standard", planned("1.33.4", **MOVING), datetime(2026, 9, 1, 3, tzinfo=UTC), 365, True,
     "completes-after-end-of-standard-support", 11),
    ("done after end of extended", planned("1.33.4", **MOVING), datetime(2027, 8, 1, tzinfo=UTC), 365, True,
     "completes-after-end-of-extended-support", 345),
    ("not done within the horizon", planned("1.33.4", **MOVING), None, 365, True, "not-done-within-horizon", None),
    ("no forecast, may finish in time: not claimed", planned("1.33.4", **MOVING), None, 365, False, None, None),
    ("no forecast, window after end of support", planned("1.33.4", **(MOVING | {"window": Interval(
        datetime(2026, 8, 25, tzinfo=UTC), datetime(2026, 8, 26, tzinfo=UTC))})), None, 365, False,
     "starts-after-end-of-standard-support", None),
    ("no forecast, already past end of standard", planned("1.32.4", status="needs-upgrade", target="1.33.4",
                                                          steps=[("1.32.4", "1.33.4", None)], window=OPEN), None, 365,
     False, "past-end-of-standard-support", None),
    ("no window at all", planned("1.33.4", **(MOVING | {"window": None})), None, 365, True, "no-window", None),
    ("blocked", planned("1.33.4", status="blocked", reasons=["image missing"]), None, 365, True, "blocked", None),
    ("at a target leaving support, newer offered", planned("1.33.4"), None, 365, True, "no-upgrade-planned", None),
    ("support ends beyond the horizon", planned("1.35.1", status="needs-upgrade", target="1.35.2",
                                                steps=[("1.35.1", "1.35.2", None)], window=OPEN), None, 90, True,
     None, None),
    ("unknown support is never a risk", planned("1.36.1", status="unmanaged", policy=None), None, 365, True, None, None),
]


@pytest.mark.parametrize(("case", "cp", "completion", "horizon", "forecast", "reason", "late"), RISKS,
                         ids=[r[0] for r in RISKS])
def test_risk(case, cp, completion, horizon, forecast, reason, late):
    rep = _risk_case(cp, completion, horizon, forecast=forecast)
    r = rep.risks[0] if rep.risks else None
    assert (r.reason if r else None, r.days_late if r else None) == (reason, late)
    assert rep.clusters[0].at_risk is (r is not None)


def test_on_the_newest_offered_version_is_listed_apart_not_at_risk():
    rep = _risk_case(planned("1.33.4"), None, newest="1.33.9")
    assert rep.risks == []
    assert [(n.cluster, str(n.end_of_standard)) for n in rep.newest] == [("c1", "2026-08-21")]
    # offers unknown: never taken to be on the newest version
    rep = _risk_case(planned("1.33.4"), None, newest=None)
    assert [r.reason for r in rep.risks] == ["no-upgrade-planned"] and rep.newest == []
    # support ending beyond the horizon: neither list
    rep = _risk_case(planned("1.35.1"), None, horizon_days=30, newest="1.35.1")
    assert rep.risks == [] and rep.newest == []


def test_newest_offered_from_the_cluster_or_the_offers():
    own = Cluster(id="a", provider="eks-prod", provider_type="eks", name="a", location="x", labels={},
                  control_plane="1.33.4", node_pools=(), available=("1.33.9", "1.34.2", "junk"))
    other = Cluster(id="b", provider="eks-prod", provider_type="eks", name="b", location="x", labels={},
                    control_plane="1.33.4", node_pools=())
    none = Cluster(id="c", provider="gke", provider_type="gke", name="c", location="x", labels={},
                   control_plane="1.33.4", node_pools=())
    got = compute_newest_offered([own, other, none], {"eks": VersionOffers(("1.35.0", "1.34.9"))})
    assert got == {"a": "1.34.2", "b": "1.35.0"}


def test_report_summary():
    cps = [planned("1.34.2", cid="a"), planned("1.32.4", cid="b"), planned("1.32.9", cid="c"),
           planned("v1.30.4", provider="oke", cid="d"), planned("1.36.0", cid="e"),
           planned("1.33.4", cid="f", **MOVING),
           planned("1.33.4", cid="g", status="blocked", reasons=["image missing"])]
    w0, w1 = datetime(2026, 8, 22, tzinfo=UTC), datetime(2026, 8, 25, tzinfo=UTC)
    fc = FakeForecast({"f": CF(w1, "canary")}, fleet_done=w1, waves={"later": (None, None), "canary": (w0, w1)},
                      notes=["wave x assumed approved", "wave x assumed approved"])
    rep = compute_report(plan_of(*cps), LC, AT, forecast=fc, memberships={"a": ACTIVE},
                         newest_offered=NEWER | {"g": "1.35.2", "c": "1.32.9"})
    assert rep.counts == {s: 0 for s in STATUSES} | {"end-of-standard-support": 2, "end-of-extended-support": 1,
                                                      "compliant": 3, "behind-minor": 1}
    assert rep.upgrade_counts == {s: 0 for s in UPGRADE_STATES} | {"upgrading": 1, "pending": 1, "blocked": 1,
                                                                   "none": 4}
    assert [(v.minor, v.clusters, v.support) for v in rep.versions["eks"]] == [
        ("1.32", 2, "extended"), ("1.33", 2, "standard"), ("1.34", 1, "standard"), ("1.36", 1, "unknown")]
    assert [(v.minor, v.support) for v in rep.versions["oke"]] == [("1.30", "unsupported")]
    assert rep.lifecycle_unknown == 1
    assert [w[0] for w in rep.forecast.waves] == ["canary", "later"]  # unstarted waves last
    assert rep.notes == ["wave x assumed approved"]
    f = next(c for c in rep.clusters if c.id == "f")
    assert (f.forecast_completion, f.wave, f.at_risk) == (w1, "canary", True)
    # sorted by end of standard support; c is on the newest offered version: listed apart
    assert [(r.cluster, r.reason) for r in rep.risks] == [
        ("d", "no-upgrade-planned"), ("b", "no-upgrade-planned"), ("f", "completes-after-end-of-standard-support"),
        ("g", "blocked"), ("a", "not-done-within-horizon")]
    assert [n.cluster for n in rep.newest] == ["c"]


def test_stale_lifecycle_data_is_noted():
    rep = compute_report(plan_of(planned()), LC, datetime(2027, 6, 1, tzinfo=UTC))
    assert any("lifecycle data is 304 days old" in n for n in rep.notes)
    assert compute_report(plan_of(planned()), LC, AT).notes == []
