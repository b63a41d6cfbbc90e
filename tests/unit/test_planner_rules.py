"""The planner under each cloud's UpgradeRules (issue 14), and the "plan is a promise" invariant: the plan
computed from any intermediate state (after some of its steps ran) is the remainder of the original plan.

The engine re-plans every member after every step from what it observes; if the re-plan differed from the
plan the user reviewed, the run would do something else, or halt (EKS refuses a control-plane minor while a
node group is behind: "Nodegroups ... must be updated to match cluster version")."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.planning.plan import ClusterPlan, PlannedStep, step_for_provider
from fleet.planning.planner import compute_plan
from fleet.provider import Cluster, Component, NodePool, PoolStrategy, UpgradeRules, VersionOffers
from tests.unit.test_planner import LONG, NOW, OFFERED, cluster, policy, steps

EKS_LIKE = UpgradeRules(pools_match_before_cp_minor=True, strategies=frozenset({PoolStrategy.SURGE}),
                        knobs=frozenset({"maxUnavailable"}))


def plan_r(pol: Any, c: Cluster, rules: UpgradeRules | None, offers: tuple[str, ...] | VersionOffers = OFFERED,
           **kw: Any) -> ClusterPlan:
    o = offers if isinstance(offers, VersionOffers) else VersionOffers(offers)
    fn = (lambda _c: rules) if rules is not None else None
    return compute_plan([pol], [c], {c.provider: o}, NOW, rules=fn, **kw).clusters[0]


def after(c: Cluster, done: list[PlannedStep]) -> Cluster:
    """The cluster as observed after ``done`` ran (each step moved its component to its version)."""
    cp = c.control_plane
    pools = {p.name: p for p in c.node_pools}
    for s in done:
        if s.component is Component.CONTROL_PLANE:
            cp = s.to
        else:
            assert s.pool is not None
            pools[s.pool] = replace(pools[s.pool], version=s.to)
    return replace(c, control_plane=cp, node_pools=tuple(pools.values()))


def shape(s: PlannedStep) -> tuple[Any, ...]:
    return (s.component, s.pool, s.from_, s.to, s.max_surge, s.max_unavailable, s.strategy)


def assert_promise(pol: Any, c: Cluster, rules: UpgradeRules | None, offers: Any) -> ClusterPlan:
    first = plan_r(pol, c, rules, offers)
    for k in range(1, len(first.steps) + 1):
        again = plan_r(pol, after(c, first.steps[:k]), rules, offers)
        rest = first.steps[k:]
        assert [shape(s) for s in again.steps] == [shape(s) for s in rest], (k, steps(first), steps(again))
        assert again.status == ("needs-upgrade" if rest else "up-to-date"), (k, again.reasons)
    return first


# ---- the re-plan defect (EKS): pools behind the control plane's minor catch up first -----------------------

MBM = {"path": "minor-by-minor"}
SKIP = {"path": "minor-by-minor", "nodePools": {"upgrade": "skip-level"}}


@pytest.mark.parametrize("spec,rules,c,expected", [
    # lockstep, minor by minor: after `cp 1.29.8` the re-plan from (cp 1.29.8, pool 1.28.3) used to go
    # straight to `cp 1.30.4`, which EKS refuses
    (MBM, None, cluster("1.29.8", "1.28.3"), ["a 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    (MBM, EKS_LIKE, cluster("1.29.8", "1.28.3"), ["a 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    # skip-level on a cloud whose pools must match before the next minor: the same
    (SKIP, EKS_LIKE, cluster("1.29.8", "1.28.3"), ["a 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    # skip-level where the cloud allows it: the pools follow once, at the end
    (SKIP, None, cluster("1.29.8", "1.28.3"), ["cp 1.30.4", "a 1.30.4"]),
])
def test_replan_from_an_intermediate_state_catches_the_pools_up_first(spec, rules, c, expected):
    assert steps(plan_r(policy(**spec), c, rules)) == expected


def test_skip_level_on_eks_is_lockstep_at_every_minor():
    p = plan_r(policy(**SKIP), cluster("1.28.3", "1.28.3"), EKS_LIKE)
    assert steps(p) == ["cp 1.29.8", "a 1.29.8", "cp 1.30.4", "a 1.30.4"]


# ---- each rule -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rules,c,target,expected", [
    # a tighter skew (AKS-like: two minors): the pool moves before the control plane gets 3 ahead
    (UpgradeRules(pool_skew=2), cluster("1.28.6", "1.28.6"), "1.32",
     ["cp 1.29.7", "cp 1.30.8", "a 1.30.8", "cp 1.31.9", "cp 1.32.1", "a 1.32.1"]),
    # default: the kubelet skew policy (3 from 1.28)
    (None, cluster("1.28.6", "1.28.6"), "1.32",
     ["cp 1.29.7", "cp 1.30.8", "cp 1.31.9", "a 1.31.9", "cp 1.32.1", "a 1.32.1"]),
    # one minor per pool step: the catch-up is split
    (UpgradeRules(pool_minor_step=1), cluster("1.28.6", "1.28.6"), "1.31",
     ["cp 1.29.7", "cp 1.30.8", "cp 1.31.9", "a 1.29.7", "a 1.30.8", "a 1.31.9"]),
    (UpgradeRules(pool_minor_step=1), cluster("1.31.9", "1.28.6"), "1.31", ["a 1.29.7", "a 1.30.8", "a 1.31.9"]),
    # pools follow the control plane (Autopilot, ClusterClass): control-plane steps only
    (UpgradeRules(pools_follow_control_plane=True), cluster("1.28.6", "1.28.6"), "1.30", ["cp 1.29.7", "cp 1.30.8"]),
])
def test_rules_shape_the_steps(rules, c, target, expected):
    p = plan_r(policy(target=target, **SKIP), c, rules, LONG)
    assert p.status == "needs-upgrade", p.reasons
    assert steps(p) == expected


def test_cluster_level_managed_topology_and_the_rule_are_one_thing():
    c = cluster("1.28.3", "1.25.1", pools_follow_control_plane=True)
    a = plan_r(policy(**MBM), c, None)
    b = plan_r(policy(**MBM), replace(c, pools_follow_control_plane=False),
               UpgradeRules(pools_follow_control_plane=True))
    assert steps(a) == steps(b) == ["cp 1.29.8", "cp 1.30.4"]
    assert a.warnings == b.warnings


def test_blocked_pool_blocks_the_cluster_with_its_reason():
    rules = UpgradeRules(blocked_pools={"b": "BASIC cluster: a version change reaches only new nodes"})
    p = plan_r(policy(), cluster("1.28.3", "1.28.3", "1.28.3"), rules)
    assert p.status == "blocked" and p.steps == []
    assert p.reasons == ["node pool b: BASIC cluster: a version change reaches only new nodes"]
    # a blocked pool that needs no step blocks nothing
    p = plan_r(policy(target="1.30"), cluster("1.30.1", ("a", "1.30.1"), ("b", "1.30.4")), rules)
    assert steps(p) == ["cp 1.30.4", "a 1.30.4"]


def test_max_minor_blocks_a_target_beyond_it():
    rules = UpgradeRules(max_minor=(1, 29), max_minor_reason="kops 1.28.4 can run Kubernetes up to 1.29 "
                                                              "(upgrading kops is required)")
    p = plan_r(policy(), cluster("1.28.3", "1.28.3"), rules)
    assert p.status == "blocked"
    assert p.reasons == ["target 1.30.4 is beyond 1.29: kops 1.28.4 can run Kubernetes up to 1.29 "
                         "(upgrading kops is required)"]
    assert plan_r(policy(target="1.29"), cluster("1.28.3"), rules).status == "needs-upgrade"


def test_allowed_versions_filter_the_control_plane_offers():
    rules = UpgradeRules(allowed_versions=("v1.28.9", "v1.29.2", "v1.30.1"))
    p = plan_r(policy(), cluster("1.28.3", "1.28.3"), rules)
    assert p.target == "1.30.1"
    assert steps(p) == ["cp 1.28.9", "a 1.28.9", "cp 1.29.2", "a 1.29.2", "cp 1.30.1", "a 1.30.1"]
    p = plan_r(policy(), cluster("1.28.3"), UpgradeRules(allowed_versions=("1.31.0",)))
    assert p.status == "blocked" and "none of the offered versions is allowed" in p.reasons[0]


def test_unsupported_knobs_warn_and_are_not_carried():
    pol = policy(target="1.29", nodePools={"maxSurge": 2, "maxUnavailable": 0, "drainTimeout": "30m"})
    p = plan_r(pol, cluster("1.28.9", NodePool("a", "1.28.9", 6)), EKS_LIKE)
    assert p.warnings == ["maxSurge is not honoured by x: left out of the node-pool steps",
                          "drainTimeout is not honoured by x: left out of the node-pool steps"]
    pool = p.steps[-1]
    # without surge, the fencepost rule makes one node unavailable at a time
    assert (pool.max_surge, pool.max_unavailable, pool.strategy) == (None, 1, "surge")
    assert p.to_dict()["steps"][-1]["maxSurge"] is None
    step = step_for_provider(pool, pol.spec.node_pools)
    assert (step.max_surge, step.max_surge_spec, step.drain_timeout_seconds) == (None, None, None)
    assert (step.max_unavailable, step.max_unavailable_spec) == (1, "0")


def test_unsupported_strategy_warns_and_plans_surge():
    pol = policy(target="1.29", nodePools={"strategy": "blue-green", "maxSurge": 1})
    p = plan_r(pol, cluster("1.28.9", "1.28.9"), UpgradeRules())
    assert p.warnings == ["node-pool strategy blue-green is not available on x: planned as surge"]
    assert p.to_dict()["steps"][-1]["strategy"] == "surge"
    ok = plan_r(pol, cluster("1.28.9", "1.28.9"),
                UpgradeRules(strategies=frozenset({PoolStrategy.SURGE, PoolStrategy.BLUE_GREEN})))
    assert ok.warnings == [] and ok.steps[-1].strategy == "blue-green"


def test_rules_by_provider_name():
    c1, c2 = cluster("1.28.3", "1.28.3", provider="p1"), cluster("1.28.3", "1.28.3", provider="p2", name="d")
    plan = compute_plan([policy()], [c1, c2], {"p1": VersionOffers(OFFERED), "p2": VersionOffers(OFFERED)}, NOW,
                        rules={"p1": lambda c: UpgradeRules(pools_follow_control_plane=True)})
    assert [len(p.steps) for p in plan.clusters] == [3, 6]


# ---- the promise, table-driven and as a property --------------------------------------------------------

RULES = {
    "default": None,
    "eks": EKS_LIKE,
    "aks": UpgradeRules(pool_skew=2, pool_minor_step=1),
    "follow": UpgradeRules(pools_follow_control_plane=True),
    "skew1": UpgradeRules(pool_skew=1),
}
PATHS = ("patch-first-then-minor", "minor-by-minor")
MODES = ("lockstep", "skip-level")
START = [cluster("1.24.2", "1.24.2", "1.24.2"), cluster("1.26.4", "1.24.2", "1.26.4"),
         cluster("1.27.5", "1.24.2"), cluster("1.28.6", "1.28.6", "1.25.3")]


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("start", range(len(START)))
def test_plan_from_every_intermediate_state_is_the_rest_of_the_plan(rules, path, mode, start):
    pol = policy(target="1.32", path=path, nodePools={"upgrade": mode, "maxSurge": "50%"})
    first = assert_promise(pol, START[start], RULES[rules], LONG)
    assert first.status == "needs-upgrade" and first.steps


MINORS = range(24, 33)


@st.composite
def cases(draw: Any) -> tuple[Any, Cluster, UpgradeRules, VersionOffers]:
    offered = [f"1.{m}.{p}" for m in MINORS for p in draw(st.sets(st.integers(0, 9), min_size=1, max_size=3))]
    cpm = draw(st.sampled_from(MINORS))
    cpv = draw(st.sampled_from([v for v in offered if v.startswith(f"1.{cpm}.")]))
    pools = []
    for i in range(draw(st.integers(0, 3))):
        pm = max(MINORS[0], cpm - draw(st.sampled_from((0, 0, 1, 2, 3, 4))))
        pools.append(NodePool(f"p{i}", draw(st.sampled_from([v for v in offered if v.startswith(f"1.{pm}.")])),
                              draw(st.integers(0, 20))))
    rules = UpgradeRules(
        pool_skew=draw(st.sampled_from((None, None, 1, 2, 3))),
        pool_minor_step=draw(st.sampled_from((None, None, 1, 2))),
        pools_match_before_cp_minor=draw(st.booleans()),
        pools_follow_control_plane=draw(st.sampled_from((False, False, False, True))),
        knobs=draw(st.sampled_from((frozenset({"maxSurge", "maxUnavailable"}), frozenset({"maxUnavailable"})))),
    )
    target = draw(st.sampled_from(("latest", "latest-1", f"1.{min(cpm + 2, MINORS[-1])}", f"1.{cpm}")))
    pol = policy(target=target, path=draw(st.sampled_from(PATHS)),
                 nodePools={"upgrade": draw(st.sampled_from(MODES)),
                            "maxSurge": draw(st.sampled_from((1, 2, "25%"))),
                            "maxUnavailable": draw(st.sampled_from((0, 1, "10%")))})
    return pol, cluster(cpv, *pools), rules, VersionOffers(tuple(offered))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_plan_is_a_promise(case):
    pol, c, rules, offers = case
    assert_promise(pol, c, rules, offers)
