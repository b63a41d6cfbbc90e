"""Version qualification as a pure function: table tests over stages, history, approvals and ``now``."""

from __future__ import annotations

from datetime import timedelta

from fleet.planning.rollout import Approval, ClusterRef, HistoryStep, compute_qualifier, has_run, release_of
from fleet.versions import parse_version
from tests.rollout.helpers import START, rollout, stage

RO = rollout(stage("dev", "dev", soak="2d"), stage("staging", "staging", soak="1d"),
             stage("prod", "prod", approval="required"))
H = timedelta(hours=1)


def ref(name: str, env: str, cp: str, provider: str = "gke") -> ClusterRef:
    return ClusterRef(f"{provider}/r/{name}", provider, provider, name, {"env": env}, cp)


def ok(step_to: str, cid: str, at, frm: str = "1.30.2") -> HistoryStep:
    return HistoryStep(cid, step_to, frm, "succeeded", at)


def test_release_spellings_compare_by_major_minor_patch():
    assert release_of("1.31.4-gke.100") == release_of("v1.31.4") == release_of("1.31.4") == "1.31.4"
    assert release_of("1.31") == "1.31"
    assert has_run(parse_version("1.31.4-gke.100"), parse_version("v1.31.4"))
    assert has_run(parse_version("1.31"), parse_version("1.31.4"))          # EKS: any patch of the minor
    assert has_run(parse_version("1.32.0"), parse_version("1.31.9"))
    assert not has_run(parse_version("1.31.3-gke.9"), parse_version("1.31.4"))


def test_first_stage_may_start_anything_and_later_stages_wait_for_upstream():
    fleet = [ref("d", "dev", "1.30.2"), ref("s", "staging", "1.30.2"), ref("p", "prod", "1.30.2")]
    q = compute_qualifier(RO, fleet, [], [], START)
    assert q.verdict(0, "1.31.4-gke.100").may_start
    v = q.verdict(1, "v1.31.4")
    assert not v.may_start and "stage dev" in v.reason and "gke/r/d runs 1.30.2" in v.reason


def test_soak_counts_from_the_last_cluster_reaching_the_version():
    fleet = [ref("d1", "dev", "1.31.4-gke.100"), ref("d2", "dev", "1.31.4-gke.100", "eks"),
             ref("s", "staging", "1.30.2")]
    hist = [ok("1.31.4-gke.100", "gke/r/d1", START), ok("1.31.4", "eks/r/d2", START + 5 * H)]
    q = compute_qualifier(RO, fleet, hist, [], START + 2 * timedelta(days=1))
    v = q.verdict(1, "1.31.4")
    assert not v.may_start and v.wake == START + 5 * H + timedelta(days=2)
    assert compute_qualifier(RO, fleet, hist, [], v.wake).verdict(1, "1.31.4").may_start
    # a version its upstream already runs, from before the journal: soaked
    assert compute_qualifier(RO, fleet, [], [], START).verdict(1, "1.31.4").may_start


def test_open_step_crossing_the_version_is_not_yet_run():
    fleet = [ref("d", "dev", "1.31.4"), ref("s", "staging", "1.30.2")]
    hist = [HistoryStep("gke/r/d", "1.31.4", "1.30.2", "open", None)]
    assert "finish its upgrade" in compute_qualifier(RO, fleet, hist, [], START).verdict(1, "1.31.4").reason


def test_failure_stops_promotion_until_approved_or_a_fix_qualifies():
    fleet = [ref("d1", "dev", "1.30.2"), ref("d2", "dev", "1.31.4"), ref("s", "staging", "1.30.2"),
             ref("p", "prod", "1.30.2")]
    hist = [HistoryStep("gke/r/d1", "1.31.4", "1.30.2", "failed", START), ok("1.31.4", "gke/r/d2", START)]
    late = START + timedelta(days=5)
    q = compute_qualifier(RO, fleet, hist, [], late)
    v = q.verdict(1, "1.31.4")
    assert not v.may_start and "failed in stage dev" in v.reason
    assert not q.verdict(2, "1.31.4").may_start                      # every later stage too
    # approval of (staging, 1.31.4) after the failure forgives it; the failed cluster need not run it
    approved = [Approval("staging", "1.31.4-gke.7", START + H)]
    assert compute_qualifier(RO, fleet, hist, approved, late).verdict(1, "1.31.4").may_start
    # an approval from before the failure forgives nothing
    early = [Approval("staging", "1.31.4", START - H)]
    assert not compute_qualifier(RO, fleet, hist, early, late).verdict(1, "1.31.4").may_start
    # a fix version qualifies on its own
    fixed = [ref("d1", "dev", "1.31.5"), ref("d2", "dev", "1.31.5"), ref("s", "staging", "1.30.2")]
    hist2 = hist + [ok("1.31.5", "gke/r/d1", START + H, "1.30.2"), ok("1.31.5", "gke/r/d2", START + H, "1.31.4")]
    assert compute_qualifier(RO, fixed, hist2, [], late).verdict(1, "1.31.5").may_start


def test_approval_required_before_the_stage_starts_a_version():
    fleet = [ref("d", "dev", "1.31.4"), ref("s", "staging", "1.31.4"), ref("p", "prod", "1.30.2")]
    q = compute_qualifier(RO, fleet, [], [], START)
    assert "needs approval" in q.verdict(2, "1.31.4").reason
    q = compute_qualifier(RO, fleet, [], [Approval("prod", "v1.31.4", START)], START)
    assert q.verdict(2, "1.31.4").may_start
    assert not q.verdict(2, "1.31.5").may_start      # per version


def test_failure_budget_of_a_stage():
    ro = rollout(stage("dev", "dev", maxFailures=2))
    fleet = [ref(f"d{i}", "dev", "1.30.2") for i in range(4)]
    one = [HistoryStep("gke/r/d0", "1.31.4", "1.30.2", "failed", START)]
    two = one + [HistoryStep("gke/r/d1", "1.31.4", "1.30.2", "failed", START + H)]
    assert compute_qualifier(ro, fleet, one, [], START + 2 * H).verdict(0, "1.31.4").may_start
    v = compute_qualifier(ro, fleet, two, [], START + 2 * H).verdict(0, "1.31.4")
    assert not v.may_start and "maxFailures 2" in v.reason
    assert compute_qualifier(ro, fleet, two, [Approval("dev", "1.31.4", START + 2 * H)],
                             START + 3 * H).verdict(0, "1.31.4").may_start


def test_unmatched_clusters_are_last_or_unordered():
    fleet = [ref("d", "dev", "1.30.2"), ref("x", "other", "1.30.2")]
    q = compute_qualifier(RO, fleet, [], [], START)
    assert q.stage_name(q.stage_of["gke/r/x"]) == "unstaged"
    assert not q.verdict(q.stage_of["gke/r/x"], "1.31.4").may_start
    q = compute_qualifier(rollout(stage("dev", "dev"), unmatched="unordered"), fleet, [], [], START)
    assert q.stage_of["gke/r/x"] is None and q.verdict(None, "1.31.4").may_start


def test_empty_stage_qualifies_at_once_and_concurrency_slots():
    fleet = [ref("s1", "staging", "1.30.2"), ref("s2", "staging", "1.30.2")]
    ro = rollout(stage("dev", "dev", soak="30d"), stage("staging", "staging", maxConcurrentClusters=1))
    q = compute_qualifier(ro, fleet, [], [], START)
    assert q.verdict(1, "1.31.4").may_start
    assert q.slots(1, ["gke/r/s1"]) == 0 and q.slots(1, []) == 1 and q.slots(0, []) is None


def test_match_minor_lets_clouds_with_different_patches_qualify_each_other():
    fleet = [ref("d", "dev", "1.32.4-gke.1106006"), ref("p", "prod", "1.31.8", "aks")]
    strict = rollout(stage("dev", "dev"), stage("prod", "prod"))
    assert not compute_qualifier(strict, fleet, [], [], START).verdict(1, "1.32.5").may_start
    loose = rollout(stage("dev", "dev"), stage("prod", "prod"))
    loose = loose.model_copy(update={"spec": loose.spec.model_copy(update={"match": "minor"})})
    q = compute_qualifier(loose, fleet, [], [], START)
    assert q.verdict(1, "1.32.5").may_start and not q.verdict(1, "1.33.1").may_start
    hist = [HistoryStep("gke/r/d", "1.32.9", "1.32.4", "failed", START)]
    assert "failed in stage dev" in compute_qualifier(loose, fleet, hist, [], START).verdict(1, "1.32.5").reason
