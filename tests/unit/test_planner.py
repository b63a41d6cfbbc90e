"""The planner, table by table: targets, paths, node pools and skew, statuses, policies, waves, budgets,
windows and the JSON shape of a plan (issue 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fleet.planning.plan import ClusterPlan, Plan
from fleet.planning.planner import Blocked, compute_plan, resolve_target
from fleet.policy.models import Selector, UpgradePolicy
from fleet.provider import Cluster, NodePool, Step, VersionOffers
from fleet.versions import parse_version as V

NOW = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)  # a Wednesday
OFFERED = ("1.28.3", "1.28.9", "1.29.2", "1.29.8", "1.30.1", "1.30.4")
LONG = ("1.24.2", "1.25.3", "1.26.4", "1.27.5", "1.28.6", "1.29.7", "1.30.8", "1.31.9", "1.32.1")


def policy(name: str = "p", target: str = "latest", **spec: Any) -> UpgradePolicy:
    return UpgradePolicy.model_validate({
        "apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": name},
        "spec": {"target": {"version": target}, **spec},
    })


def cluster(cp: str, *pools: str | tuple[str, str] | NodePool, provider: str = "x", name: str = "c",
            **kw: Any) -> Cluster:
    """Pools as 'version' (named a, b, ...), (name, version) or NodePool."""
    out = []
    for i, p in enumerate(pools):
        if isinstance(p, NodePool):
            out.append(p)
        elif isinstance(p, tuple):
            out.append(NodePool(p[0], p[1], 3))
        else:
            out.append(NodePool("abcdefgh"[i], p, 3))
    return Cluster(provider=provider, location="loc", name=name, control_plane=cp, node_pools=tuple(out), **kw)


def plan_one(policies: UpgradePolicy | list[UpgradePolicy], c: Cluster,
             offers: tuple[str, ...] | VersionOffers = OFFERED, now: datetime = NOW, **kw: Any) -> ClusterPlan:
    pols = policies if isinstance(policies, list) else [policies]
    o = offers if isinstance(offers, VersionOffers) else VersionOffers(offers)
    plan = compute_plan(pols, [c], {c.provider: o}, now, **kw)
    assert len(plan.clusters) == 1
    return plan.clusters[0]


def steps(cp: ClusterPlan) -> list[str]:
    """'cp 1.29.8' or 'a 1.29.8' (pool a) for every step, in order."""
    return [("cp" if s.pool is None else s.pool) + " " + s.to for s in cp.steps]


# ---- target spellings ----------------------------------------------------------------------------------

GKE = ("1.29.15-gke.1200000", "1.30.10-gke.1100000", "1.30.12-gke.1086000", "1.31.6-gke.1020000",
       "1.31.8-gke.1045000")
EKS = ("1.29", "1.30", "1.31")
OKE = ("v1.29.10", "v1.30.10", "v1.31.1", "v1.31.10")


@pytest.mark.parametrize("spec,offered,current,expected", [
    ("latest", OFFERED, "1.28.3", "1.30.4"),
    ("latest-1", OFFERED, "1.28.3", "1.29.8"),
    ("1.29", OFFERED, "1.28.3", "1.29.8"),
    ("1.30.1", OFFERED, "1.28.3", "1.30.1"),
    ("v1.30.1", OFFERED, "1.28.3", "1.30.1"),
    ("1.28", OFFERED, "1.28.3", "1.28.9"),
    # the cluster's own version counts as available: a newer patch than any offered is not "ahead"
    ("1.30", ("1.30.1", "1.31.0"), "1.30.7", "1.30.7"),
    ("1.30.7", ("1.30.1", "1.31.0"), "1.30.7", "1.30.7"),
    # GKE: numbers order, the -gke build picks the newest of a patch, the spelling is kept
    ("latest", GKE, "1.29.15-gke.1200000", "1.31.8-gke.1045000"),
    ("latest-1", GKE, "1.29.15-gke.1200000", "1.30.12-gke.1086000"),
    ("1.30", GKE, "1.29.15-gke.1200000", "1.30.12-gke.1086000"),
    ("1.30.10", GKE, "1.29.15-gke.1200000", "1.30.10-gke.1100000"),
    ("1.31.6-gke.1020000", GKE, "1.29.15-gke.1200000", "1.31.6-gke.1020000"),
    # EKS control planes are minor-only: an exact patch means its minor
    ("latest", EKS, "1.29", "1.31"),
    ("latest-1", EKS, "1.29", "1.30"),
    ("1.30", EKS, "1.29", "1.30"),
    ("1.30.4", EKS, "1.29", "1.30"),
    # OKE spells versions with a v
    ("latest", OKE, "v1.29.10", "v1.31.10"),
    ("1.31", OKE, "v1.29.10", "v1.31.10"),
    ("1.31.1", OKE, "v1.29.10", "v1.31.1"),
    ("v1.30.10", OKE, "v1.29.10", "v1.30.10"),
])
def test_resolve_target(spec, offered, current, expected):
    got = resolve_target(spec, [V(v) for v in offered], V(current))
    assert str(got) == expected


@pytest.mark.parametrize("spec,offered,current,reason", [
    ("1.30.2", OFFERED, "1.28.3", "target 1.30.2 is not offered"),
    ("1.31", OFFERED, "1.28.3", "no offered version of 1.31"),
    ("latest-1", ("1.28.3", "1.30.4"), "1.28.3", "no offered version of 1.29"),
])
def test_resolve_target_blocked(spec, offered, current, reason):
    with pytest.raises(Blocked, match=reason):
        resolve_target(spec, [V(v) for v in offered], V(current))


# ---- paths and node pools -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,c,expected", [
    # patch-first (default) + lockstep (default): every pool follows every control-plane step
    ({}, cluster("1.28.3", "1.28.3"),
     ["cp 1.28.9", "a 1.28.9", "cp 1.29.8", "a 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    ({"path": "minor-by-minor"}, cluster("1.28.3", "1.28.3"),
     ["cp 1.29.8", "a 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    # already at the newest patch: no patch step, but pools behind on the patch catch up first
    ({}, cluster("1.28.9", "1.28.3"), ["a 1.28.9", "cp 1.29.8", "a 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    ({"path": "minor-by-minor"}, cluster("1.28.9", "1.28.3"),
     ["cp 1.29.8", "a 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    # skip-level: pools follow once, at the end
    ({"nodePools": {"upgrade": "skip-level"}}, cluster("1.28.3", "1.28.3", "1.28.9"),
     ["cp 1.28.9", "cp 1.29.8", "cp 1.30.4", "a 1.30.4", "b 1.30.4"]),
    ({"path": "minor-by-minor", "nodePools": {"upgrade": "skip-level"}}, cluster("1.28.3", "1.28.3"),
     ["cp 1.29.8", "cp 1.30.4", "a 1.30.4"]),
    # same minor: one patch step for the control plane, pools follow
    ({"target": "1.28"}, cluster("1.28.3", "1.28.3"), ["cp 1.28.9", "a 1.28.9"]),
    # control plane at target, pool behind: the pool catches up
    ({}, cluster("1.30.4", "1.29.8"), ["a 1.30.4"]),
])
def test_paths_and_pools(spec, c, expected):
    p = plan_one(policy(**spec), c)
    assert p.status == "needs-upgrade"
    assert steps(p) == expected


SKIP = {"path": "minor-by-minor", "nodePools": {"upgrade": "skip-level"}}


@pytest.mark.parametrize("c,target,expected", [
    # control planes before 1.28 allow 2 minors of kubelet skew: the pool must move before 1.27
    (cluster("1.24.2", "1.24.2"), "1.28",
     ["cp 1.25.3", "cp 1.26.4", "a 1.26.4", "cp 1.27.5", "cp 1.28.6", "a 1.28.6"]),
    # from 1.28, 3 minors: 1.28 -> 1.31 keeps a 1.28 pool, 1.32 would not
    (cluster("1.28.6", "1.28.6"), "1.32",
     ["cp 1.29.7", "cp 1.30.8", "cp 1.31.9", "a 1.31.9", "cp 1.32.1", "a 1.32.1"]),
    # the limit is the one of the control plane's new version: 1.25 pools may stay at 2 minors under 1.27,
    # and at 3 under 1.28, but not 4 under 1.29
    (cluster("1.27.5", "1.25.3"), "1.29", ["cp 1.28.6", "a 1.28.6", "cp 1.29.7", "a 1.29.7"]),
    # pools already too far behind go first (2 minors under 1.27 is the limit: 1.24 is 3 behind)
    (cluster("1.27.5", "1.24.2", "1.27.5"), "1.28", ["a 1.27.5", "cp 1.28.6", "a 1.28.6", "b 1.28.6"]),
    # ... from 1.28 on, 4 behind is too far (a goes first), 3 is fine until the next minor (b moves before it)
    (cluster("1.30.8", "1.26.4", "1.27.5"), "1.31",
     ["a 1.30.8", "b 1.30.8", "cp 1.31.9", "a 1.31.9", "b 1.31.9"]),
    (cluster("1.30.8", "1.26.4", "1.27.5"), "1.30", ["a 1.30.8", "b 1.30.8"]),
    # too far behind with the control plane already at target
    (cluster("1.30.8", "1.26.4"), "1.30", ["a 1.30.8"]),
])
def test_skew_insertion(c, target, expected):
    p = plan_one(policy(target=target, **SKIP), c, LONG)
    assert p.status == "needs-upgrade"
    assert steps(p) == expected


def test_lockstep_moves_far_behind_pool_first():
    p = plan_one(policy(target="1.28", path="minor-by-minor"), cluster("1.27.5", "1.24.2"), LONG)
    assert steps(p) == ["a 1.27.5", "cp 1.28.6", "a 1.28.6"]


def test_pool_newer_than_control_plane_is_never_downgraded():
    p = plan_one(policy(target="1.29"), cluster("1.28.3", "1.29.8", "1.28.3"))
    assert steps(p) == ["cp 1.28.9", "b 1.28.9", "cp 1.29.8", "b 1.29.8"]
    assert any("newer than the control plane" in w for w in p.warnings)


def test_pools_never_run_newer_than_control_plane():
    # node versions offered separately: only those not newer than the control plane are taken
    offers = VersionOffers(("1.29.2", "1.30.4"), {"*": ("1.30.2", "1.30.9")})
    p = plan_one(policy(target="1.30"), cluster("1.29.2", "1.29.2"), offers)
    assert steps(p) == ["cp 1.30.4", "a 1.30.2"]


def test_managed_topology_moves_pools_with_the_control_plane():
    c = cluster("1.28.3", "1.25.1", pools_follow_control_plane=True)
    p = plan_one(policy(path="minor-by-minor"), c)
    assert steps(p) == ["cp 1.29.8", "cp 1.30.4"]
    assert any("follow the control plane" in w for w in p.warnings)


# ---- provider spellings end to end ---------------------------------------------------------------------

EKS_NODES = ("1.29.15-20250610", "1.30.9-20250403", "1.30.14-20250715", "1.31.7-20250610")


@pytest.mark.parametrize("spec,c,offers,expected", [
    # GKE: the -gke spelling is kept in every step
    ({"target": "1.31"},
     cluster("1.30.10-gke.1100000", "1.30.10-gke.1100000", provider="gke"), VersionOffers(GKE),
     ["cp 1.30.12-gke.1086000", "a 1.30.12-gke.1086000", "cp 1.31.8-gke.1045000", "a 1.31.8-gke.1045000"]),
    # EKS: minor-only control planes, pools move to the newest AMI release of each minor (patch first)
    ({}, cluster("1.29", "1.29.10-20240101", provider="eks"), VersionOffers(EKS, {"*": EKS_NODES}),
     ["a 1.29.15-20250610", "cp 1.30", "a 1.30.14-20250715", "cp 1.31", "a 1.31.7-20250610"]),
    ({"path": "minor-by-minor"}, cluster("1.29", "1.29.10-20240101", provider="eks"),
     VersionOffers(EKS, {"*": EKS_NODES}), ["cp 1.30", "a 1.30.14-20250715", "cp 1.31", "a 1.31.7-20250610"]),
    # no AMI of the current minor offered: the optional patch-first pool step is left out (not blocked)
    ({}, cluster("1.29", "1.29.10-20240101", provider="eks"), VersionOffers(EKS, {"*": EKS_NODES[1:]}),
     ["cp 1.30", "a 1.30.14-20250715", "cp 1.31", "a 1.31.7-20250610"]),
    # pool-specific offers win over the provider's '*'
    ({"target": "1.30"}, cluster("1.29", ("ng", "1.29.15-20250610"), provider="eks"),
     VersionOffers(EKS, {"ng": ("1.30.9-20250403",), "*": EKS_NODES}), ["cp 1.30", "ng 1.30.9-20250403"]),
    # EKS control plane at target: the pools still take the newest AMI of that minor
    ({"target": "1.30"}, cluster("1.30", "1.30.9-20250403", provider="eks"),
     VersionOffers(EKS, {"*": EKS_NODES}), ["a 1.30.14-20250715"]),
    # OKE: v-prefixed
    ({}, cluster("v1.30.10", "v1.30.10", provider="oke"), VersionOffers(OKE),
     ["cp v1.31.10", "a v1.31.10"]),
])
def test_provider_spellings(spec, c, offers, expected):
    p = plan_one(policy(**spec), c, offers)
    assert p.status == "needs-upgrade", p.reasons
    assert steps(p) == expected


def test_cluster_offers_win_over_provider_offers_and_type_is_used_for_lookup():
    c = cluster("1.28.3", provider="prod-gke", provider_type="gke", available=("1.28.3", "1.29.1"))
    plan = compute_plan([policy()], [c], {"gke": VersionOffers(OFFERED)}, NOW)
    assert steps(plan.clusters[0]) == ["cp 1.29.1"]
    c2 = cluster("1.28.3", provider="prod-gke", provider_type="gke")
    plan = compute_plan([policy()], [c2], {"gke": VersionOffers(OFFERED)}, NOW)
    assert plan.clusters[0].target == "1.30.4"
    plan = compute_plan([policy()], [c2], lambda cl: VersionOffers(("1.28.9",)), NOW)
    assert steps(plan.clusters[0]) == ["cp 1.28.9"]


# ---- statuses ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pol,c,offers,status,reason", [
    (policy(), cluster("1.30.4", "1.30.4"), OFFERED, "up-to-date", None),
    (policy(target="1.29"), cluster("1.29.8", "1.29.8"), OFFERED, "up-to-date", None),
    (policy(), cluster("1.28.3", "1.28.3"), OFFERED, "needs-upgrade", None),
    # ahead: never downgraded
    (policy(target="1.29"), cluster("1.30.1", "1.30.1"), OFFERED, "ahead", "never downgraded"),
    (policy(target="1.29.2"), cluster("1.29.8"), OFFERED, "ahead", "newer than the target 1.29.2"),
    (policy(target="latest-1"), cluster("1.30.4"), OFFERED, "ahead", "never downgraded"),
    (policy(target="1.27"), cluster("1.28.3"), OFFERED, "ahead", "never downgraded"),
    # blocked
    (policy(target="1.30.2"), cluster("1.28.3"), OFFERED, "blocked", "1.30.2 is not offered"),
    (policy(target="1.31"), cluster("1.28.3"), OFFERED, "blocked", "no offered version of 1.31"),
    (policy(target="1.30.4"), cluster("1.28.3"), ("1.28.3", "1.30.4"), "blocked",
     "no offered version of 1.29 on the path"),
    (policy(), cluster("1.28.3"), (), "blocked", "offers no versions"),
    (policy(), cluster("1.28.3"), ("2.0.1",), "blocked", "major version"),
    (policy(), cluster("banana"), OFFERED, "blocked", "unreadable control-plane version"),
    (policy(), cluster("1.28.3", "x.y"), OFFERED, "blocked", "unreadable version"),
    (policy(), cluster("1.29", "1.29.1", provider="eks"), VersionOffers(EKS, {"*": ("1.29.2", "1.31.1")}),
     "blocked", "no node version offered for 1.30"),
    # unmanaged
    (policy(selector={"matchLabels": {"env": "prod"}}), cluster("1.28.3"), OFFERED, "unmanaged",
     "no policy selects this cluster"),
])
def test_statuses(pol, c, offers, status, reason):
    p = plan_one(pol, c, offers)
    assert p.status == status
    if status in ("up-to-date", "ahead", "blocked", "unmanaged"):
        assert p.steps == []
        assert p.next_window is None
    if reason is None:
        assert p.reasons == []
    else:
        assert any(reason in r for r in p.reasons), p.reasons
    assert (p.policy is None) == (status == "unmanaged")


# ---- policies and selectors ----------------------------------------------------------------------------

def test_highest_priority_wins():
    pols = [policy("low", priority=1), policy("high", target="1.29", priority=10), policy("mid", priority=5)]
    p = plan_one(pols, cluster("1.28.3"))
    assert p.policy == "high"
    assert p.target == "1.29.8"


def test_priority_tie_blocks_naming_both():
    pols = [policy("alpha", priority=5), policy("beta", priority=5), policy("low", priority=1)]
    p = plan_one(pols, cluster("1.28.3"))
    assert p.status == "blocked"
    assert p.policy is None and p.steps == []
    assert "'alpha'" in p.reasons[0] and "'beta'" in p.reasons[0] and "5" in p.reasons[0]


def test_tie_below_the_top_does_not_block():
    pols = [policy("a", priority=1), policy("b", priority=1), policy("top", priority=2)]
    assert plan_one(pols, cluster("1.28.3")).policy == "top"


def test_non_matching_higher_priority_is_ignored():
    pols = [policy("prod", priority=100, selector={"matchLabels": {"env": "prod"}}), policy("any")]
    assert plan_one(pols, cluster("1.28.3", labels={"env": "dev"})).policy == "any"


C: dict[str, Any] = {"provider": "prod-gke", "provider_type": "gke", "name": "shop-eu-1",
                     "cluster_id": "gke/europe-west1/shop-eu-1", "labels": {"env": "prod", "team": "shop"}}


@pytest.mark.parametrize("selector,matches", [
    ({}, True),
    ({"providers": ["gke"]}, True),                 # by type
    ({"providers": ["prod-gke"]}, True),            # by name
    ({"providers": ["eks", "aks"]}, False),
    ({"matchLabels": {"env": "prod"}}, True),
    ({"matchLabels": {"env": "prod", "team": "shop"}}, True),
    ({"matchLabels": {"env": "prod", "team": "data"}}, False),  # every label must match
    ({"matchLabels": {"tier": "gold"}}, False),
    ({"names": ["shop-*"]}, True),                  # glob over the name
    ({"names": ["gke/europe-*"]}, True),            # ... or the id
    ({"names": ["*-us-*", "shop-eu-?"]}, True),     # any glob
    ({"names": ["shop"]}, False),                   # whole-name match
    ({"names": ["SHOP-*"]}, False),                 # case-sensitive
    ({"providers": ["gke"], "matchLabels": {"env": "prod"}, "names": ["*-eu-*"]}, True),
    ({"providers": ["gke"], "matchLabels": {"env": "dev"}, "names": ["*-eu-*"]}, False),  # all parts
])
def test_selector(selector, matches):
    sel = Selector.model_validate(selector)
    assert sel.matches(C["provider"], C["provider_type"], C["name"], C["cluster_id"], C["labels"]) is matches
    c = Cluster(provider=C["provider"], provider_type=C["provider_type"], location="europe-west1",
                name=C["name"], control_plane="1.28.3", labels=C["labels"], id=C["cluster_id"])
    p = plan_one(policy(selector=selector), c)
    assert (p.status != "unmanaged") is matches


# ---- waves ---------------------------------------------------------------------------------------------

WAVES = {"waves": [
    {"name": "canary", "selector": {"matchLabels": {"canary": "true"}}, "soak": "24h"},
    {"name": "eu", "selector": {"names": ["*-eu-*"]}},
    {"name": "prod", "selector": {"matchLabels": {"env": "prod"}}},
]}


@pytest.mark.parametrize("name,labels,rollout,wave", [
    ("shop-eu-1", {"canary": "true", "env": "prod"}, WAVES, "canary"),  # first matching wave wins
    ("shop-eu-1", {"env": "prod"}, WAVES, "eu"),
    ("shop-us-1", {"env": "prod"}, WAVES, "prod"),
    ("shop-us-1", {"env": "dev"}, WAVES, "default"),                      # none matches: implicit default
    ("shop-us-1", {}, {}, "default"),                                       # no waves at all
    ("shop-us-1", {}, {"waves": [{"name": "first", "selector": {"names": ["zz*"]}}, {"name": "rest"}]}, "rest"),
])
def test_waves(name, labels, rollout, wave):
    p = plan_one(policy(rollout=rollout), cluster("1.28.3", name=name, labels=labels))
    assert p.wave == wave


# ---- fenceposts in steps -------------------------------------------------------------------------------

@pytest.mark.parametrize("surge,unavailable,nodes,expected", [
    (1, 0, 10, (1, 0)),
    ("25%", 0, 10, (3, 0)),       # 2.5 -> 3: surge rounds up
    (0, "25%", 10, (0, 2)),       # 2.5 -> 2: unavailable rounds down
    ("10%", "10%", 5, (1, 0)),
    ("0%", "10%", 5, (0, 1)),     # both 0 after rounding: unavailable 1
    ("0%", "10%", 0, (0, 1)),
    ("50%", "100%", 3, (2, 3)),
])
def test_fenceposts_in_steps(surge, unavailable, nodes, expected):
    c = cluster("1.30.1", NodePool("a", "1.30.1", nodes))
    p = plan_one(policy(nodePools={"maxSurge": surge, "maxUnavailable": unavailable}), c)
    cp_steps = [s for s in p.steps if s.pool is None]
    pool_steps = [s for s in p.steps if s.pool is not None]
    assert cp_steps and pool_steps
    assert all((s.max_surge, s.max_unavailable) == (None, None) for s in cp_steps)
    assert all((s.max_surge, s.max_unavailable) == expected for s in pool_steps)


# ---- next window ---------------------------------------------------------------------------------------

SAT = {"timezone": "UTC", "windows": [{"days": ["Sat"], "start": "02:00", "duration": "4h"}]}


def u(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(p: ClusterPlan) -> tuple[str, str | None] | None:
    if p.next_window is None:
        return None
    end = p.next_window.end
    return p.next_window.start.isoformat(timespec="minutes")[:16], end and end.isoformat(timespec="minutes")[:16]


def excl(start: str, end: str, scope: str = "no-upgrades") -> dict[str, Any]:
    return {"start": start, "end": end, "scope": scope}


@pytest.mark.parametrize("maintenance,c,now,expected", [
    # closed now: the next window
    (SAT, cluster("1.28.3"), "2026-06-03T12:00", ("2026-06-06T02:00", "2026-06-06T06:00")),
    # open now: that window (its start is before --at)
    (SAT, cluster("1.28.3"), "2026-06-06T03:00", ("2026-06-06T02:00", "2026-06-06T06:00")),
    # the end is exclusive
    (SAT, cluster("1.28.3"), "2026-06-06T06:00", ("2026-06-13T02:00", "2026-06-13T06:00")),
    # a time zone: Sat 02:00 in Berlin (CEST) is Fri 00:00 UTC
    ({**SAT, "timezone": "Europe/Berlin"}, cluster("1.28.3"), "2026-06-03T12:00",
     ("2026-06-06T00:00", "2026-06-06T04:00")),
    # a no-upgrades exclusion over the next window: the one after
    ({**SAT, "exclusions": [excl("2026-06-05T00:00:00Z", "2026-06-08T00:00:00Z")]}, cluster("1.28.3"),
     "2026-06-03T12:00", ("2026-06-13T02:00", "2026-06-13T06:00")),
    # an exclusion cutting into the open window: what is left of it
    ({**SAT, "exclusions": [excl("2026-06-06T00:00:00Z", "2026-06-06T04:00:00Z")]}, cluster("1.28.3"),
     "2026-06-06T03:00", ("2026-06-06T04:00", "2026-06-06T06:00")),
    # no-minor-upgrades: a patch step (1.28.3 -> 1.28.9) still goes in the next window ...
    ({**SAT, "exclusions": [excl("2026-06-01T00:00:00Z", "2026-06-30T00:00:00Z", "no-minor-upgrades")]},
     cluster("1.28.3"), "2026-06-03T12:00", ("2026-06-06T02:00", "2026-06-06T06:00")),
    # ... a minor step (1.28.9 -> 1.29.8) waits for the first window after the freeze
    ({**SAT, "exclusions": [excl("2026-06-01T00:00:00Z", "2026-06-30T00:00:00Z", "no-minor-upgrades")]},
     cluster("1.28.9"), "2026-06-03T12:00", ("2026-07-04T02:00", "2026-07-04T06:00")),
    # no windows: always open, from --at until the next exclusion
    ({}, cluster("1.28.3"), "2026-06-03T12:00", ("2026-06-03T12:00", None)),
    ({"exclusions": [excl("2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z")]}, cluster("1.28.3"),
     "2026-06-03T12:00", ("2026-06-03T12:00", "2026-06-10T00:00")),
    ({"exclusions": [excl("2026-06-01T00:00:00Z", "2026-06-11T00:00:00Z")]}, cluster("1.28.3"),
     "2026-06-03T12:00", ("2026-06-11T00:00", None)),
])
def test_next_window(maintenance, c, now, expected):
    p = plan_one(policy(maintenance=maintenance), c, now=u(now))
    assert p.status == "needs-upgrade"
    assert window(p) == expected


def test_first_step_decides_the_window_even_when_it_is_a_pool():
    # the pool is 4 minors behind a 1.30 control plane: its (minor) step goes first and waits for the freeze
    maint = {**SAT, "exclusions": [excl("2026-06-01T00:00:00Z", "2026-06-30T00:00:00Z", "no-minor-upgrades")]}
    p = plan_one(policy(target="1.30", maintenance=maint), cluster("1.30.8", "1.26.4"), LONG, now=u("2026-06-03T12:00"))
    assert steps(p) == ["a 1.30.8"]
    assert window(p) == ("2026-07-04T02:00", "2026-07-04T06:00")


def test_no_window_within_the_horizon_is_a_reason():
    maint = {**SAT, "exclusions": [excl("2026-06-01T00:00:00Z", "2028-01-01T00:00:00Z")]}
    p = plan_one(policy(maintenance=maint), cluster("1.28.3"))
    assert p.status == "needs-upgrade"
    assert p.next_window is None
    assert any("no maintenance window" in r for r in p.reasons)


# ---- warnings ------------------------------------------------------------------------------------------

def test_auto_upgrade_warning_on_every_status():
    for pol, status in ((policy(), "needs-upgrade"), (policy(selector={"names": ["nope"]}), "unmanaged")):
        p = plan_one(pol, cluster("1.28.3", auto_upgrade="release channel REGULAR"))
        assert p.status == status
        assert any("auto-upgrade is on (release channel REGULAR)" in w for w in p.warnings)
    assert plan_one(policy(), cluster("1.28.3")).warnings == []


def test_checker_warnings_are_collected_once():
    def checker(c: Cluster, step: Step) -> list[str]:
        return ["blue-green not supported"] if step.pool else []

    c = cluster("1.28.3", "1.28.3", "1.28.3")
    plan = compute_plan([policy()], [c], {"x": VersionOffers(OFFERED)}, NOW, checkers={"x": checker})
    assert plan.clusters[0].warnings == ["blue-green not supported"]


# ---- the plan as JSON ----------------------------------------------------------------------------------

def test_plan_json_shape():
    pols = [policy("prod", target="1.29", priority=10, selector={"matchLabels": {"env": "prod"}},
                   nodePools={"maxSurge": "25%", "maxUnavailable": 0},
                   maintenance={"timezone": "Europe/Berlin",
                                "windows": [{"days": ["Sat"], "start": "01:00", "duration": "5h"}]},
                   rollout={"waves": [{"name": "canary", "selector": {"matchLabels": {"canary": "true"}}}]}),
            policy("pin", target="1.28.3", selector={"names": ["old-*"]})]
    clusters = [
        cluster("1.28.9", NodePool("pool", "1.28.9", 8), name="web", labels={"env": "prod", "canary": "true"},
                auto_upgrade="on"),
        cluster("1.29.2", name="old-1"),
        cluster("1.29.8", name="stray"),
    ]
    plan = compute_plan(pols, clusters, {"x": VersionOffers(OFFERED)}, datetime(2026, 6, 3, 14, 30, 15, tzinfo=UTC))
    assert isinstance(plan, Plan)
    assert plan.to_dict() == {
        "at": "2026-06-03T14:30:15Z",
        "clusters": [
            {"id": "x/loc/old-1", "provider": "x", "policy": "pin", "status": "ahead",
             "current": {"controlPlane": "1.29.2", "nodePools": {}}, "target": "1.28.3", "steps": [],
             "nextWindow": None, "wave": "default",
             "reasons": ["control plane 1.29.2 is newer than the target 1.28.3; never downgraded"], "warnings": []},
            {"id": "x/loc/stray", "provider": "x", "policy": None, "status": "unmanaged",
             "current": {"controlPlane": "1.29.8", "nodePools": {}}, "target": None, "steps": [],
             "nextWindow": None, "wave": None, "reasons": ["no policy selects this cluster"], "warnings": []},
            {"id": "x/loc/web", "provider": "x", "policy": "prod", "status": "needs-upgrade",
             "current": {"controlPlane": "1.28.9", "nodePools": {"pool": "1.28.9"}}, "target": "1.29.8",
             "steps": [
                 {"component": "control-plane", "pool": None, "from": "1.28.9", "to": "1.29.8",
                  "strategy": None, "maxSurge": None, "maxUnavailable": None},
                 {"component": "node-pool", "pool": "pool", "from": "1.28.9", "to": "1.29.8",
                  "strategy": "surge", "maxSurge": 2, "maxUnavailable": 0},
             ],
             # Sat 01:00-06:00 Berlin (CEST, +02:00) in UTC
             "nextWindow": {"start": "2026-06-05T23:00:00Z", "end": "2026-06-06T04:00:00Z"},
             "wave": "canary", "reasons": [],
             "warnings": ["the cloud's own auto-upgrade is on (on): two schedulers on one cluster"]},
        ],
    }


def test_plan_is_sorted_by_id_and_deterministic():
    cs = [cluster("1.28.3", name=n) for n in ("b", "c", "a")]
    one = compute_plan([policy()], cs, {"x": VersionOffers(OFFERED)}, NOW).to_dict()
    two = compute_plan([policy()], list(reversed(cs)), {"x": VersionOffers(OFFERED)}, NOW).to_dict()
    assert [c["id"] for c in one["clusters"]] == ["x/loc/a", "x/loc/b", "x/loc/c"]
    assert one == two
