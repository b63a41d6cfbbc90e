"""Property tests of the planner (hypothesis): random fleets, offers and policies.

Whatever the input, a plan never skips a control-plane minor, never downgrades anything, never puts a pool
above its control plane or beyond the kubelet skew limit at any point of the step sequence, ends at the
target when the cluster needs an upgrade, and is deterministic.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from fleet.planning.plan import ClusterPlan
from fleet.planning.planner import compute_plan
from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, Component, NodePool, VersionOffers
from fleet.versions import max_kubelet_skew, parse_version

MINORS = range(24, 34)
STYLES = ("plain", "gke", "oke", "eks")
NOW = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)


def spell(style: str, minor: int, patch: int, build: int = 0) -> str:
    if style == "gke":
        return f"1.{minor}.{patch}-gke.{1000 + build}"
    if style == "oke":
        return f"v1.{minor}.{patch}"
    if style == "eks":
        return f"1.{minor}.{patch}-2025{build % 12 + 1:02d}01"
    return f"1.{minor}.{patch}"


release = st.tuples(st.sampled_from(MINORS), st.integers(0, 12), st.integers(0, 3))  # (minor, patch, build)


@st.composite
def releases(draw: Any) -> list[tuple[int, int, int]]:
    """What a cloud offers: a run of minors, each with a few patches; now and then a minor is missing."""
    lo = draw(st.sampled_from((MINORS[0], MINORS[0], *MINORS)))
    hi = draw(st.sampled_from((MINORS[-1], MINORS[-1], *MINORS)))
    out = []
    for m in range(lo, max(lo, hi) + 1):
        n = draw(st.sampled_from((0, *[1, 2, 3, 3] * 6)))
        out += [(m, draw(st.integers(0, 12)), draw(st.integers(0, 3))) for _ in range(n)]
    return draw(st.permutations(out)) if out else out


@st.composite
def clusters(draw: Any, style: str, i: int) -> tuple[Cluster, VersionOffers | None]:
    minor = draw(st.sampled_from(MINORS))
    patch = draw(st.integers(0, 12))
    cp = f"1.{minor}" if style == "eks" else spell(style, minor, patch, draw(st.integers(0, 3)))
    pools = []
    for k in range(draw(st.integers(0, 3))):
        behind = draw(st.sampled_from((0, 0, 1, 2, 3, 4, 5, -1)))  # -1: a pool newer than its control plane
        pm = min(max(minor - behind, MINORS[0]), MINORS[-1])
        pp = draw(st.integers(0, 12))
        pools.append(NodePool(f"pool-{k}", spell(style, pm, pp, draw(st.integers(0, 3))), draw(st.integers(0, 30))))
    own: VersionOffers | None = None
    available: tuple[str, ...] = ()
    if draw(st.integers(0, 7)) == 0:  # this cluster's own offers
        rel = draw(releases())
        available = tuple(f"1.{m}" if style == "eks" else spell(style, m, p, b) for m, p, b in rel)
    if style == "eks" and draw(st.booleans()):
        nodes = tuple(spell("eks", m, p, b) for m, p, b in draw(releases()))
        own = VersionOffers((), {"*": nodes})
    c = Cluster(provider=style, location="l", name=f"c{i}", control_plane=cp, node_pools=tuple(pools),
                labels={"env": draw(st.sampled_from(("prod", "dev", "none")))}, available=available,
                pools_follow_control_plane=draw(st.sampled_from((False, False, False, True))))
    return c, own


@st.composite
def policies(draw: Any, offered: list[tuple[int, int, int]]) -> list[UpgradePolicy]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        m, p, _ = draw(st.sampled_from(offered) if offered and draw(st.integers(0, 4)) else release)
        target = draw(st.sampled_from(("latest", "latest-1", f"1.{m}", f"1.{m}.{p}")))
        spec: dict[str, Any] = {
            "priority": draw(st.integers(0, 6)),
            "target": {"version": target},
            "path": draw(st.sampled_from(("patch-first-then-minor", "minor-by-minor"))),
            "nodePools": {"upgrade": draw(st.sampled_from(("lockstep", "skip-level"))),
                          "maxSurge": draw(st.sampled_from((0, 1, "25%"))), "maxUnavailable": 1},
        }
        if draw(st.booleans()):
            spec["selector"] = {"matchLabels": {"env": draw(st.sampled_from(("prod", "dev")))}}
        if draw(st.booleans()):
            spec["maintenance"] = {"timezone": "Europe/Berlin",
                                   "windows": [{"days": ["Sat"], "start": "02:30", "duration": "4h"}],
                                   "exclusions": [{"start": "2026-06-01T00:00:00", "end": "2026-06-10T00:00:00",
                                                   "scope": draw(st.sampled_from(("no-upgrades",
                                                                                   "no-minor-upgrades")))}]}
        out.append(UpgradePolicy.model_validate({"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy",
                                                 "metadata": {"name": f"p{i}"}, "spec": spec}))
    return out


@st.composite
def fleets(draw: Any) -> tuple[list[UpgradePolicy], list[Cluster], dict[str, VersionOffers]]:
    offers: dict[str, VersionOffers] = {}
    offered: list[tuple[int, int, int]] = []
    for style in STYLES:
        rel = draw(releases())
        offered += rel
        if style == "eks":
            nodes = tuple(spell("eks", m, p, b) for m, p, b in draw(releases()))
            offers[style] = VersionOffers(tuple(f"1.{m}" for m, _, _ in rel), {"*": nodes} if nodes else {})
        else:
            offers[style] = VersionOffers(tuple(spell(style, m, p, b) for m, p, b in rel))
    out = []
    for i in range(draw(st.integers(1, 4))):
        c, own = draw(clusters(draw(st.sampled_from(STYLES)), i))
        if own is not None:  # pool offers of this cluster only: give it its own provider name
            c = Cluster(**{**_fields(c), "provider": f"eks-{i}", "provider_type": "eks"})
            offers[c.provider] = VersionOffers(offers["eks"].control_plane, own.node_pools)
        out.append(c)
    return draw(policies(offered)), out, offers


def _fields(c: Cluster) -> dict[str, Any]:
    return {f: getattr(c, f) for f in ("provider", "location", "name", "control_plane", "node_pools", "labels",
                                        "available", "pools_follow_control_plane")}


def check_cluster(c: Cluster, p: ClusterPlan) -> None:
    assert p.status in ("up-to-date", "needs-upgrade", "ahead", "blocked", "unmanaged")
    if p.status != "needs-upgrade":
        assert p.steps == [] and p.next_window is None
        if p.status == "ahead":
            assert p.target is not None and parse_version(p.target) < parse_version(c.control_plane)
        return
    assert p.steps
    cp = parse_version(c.control_plane)
    cp_raw = c.control_plane
    pools = {n.name: parse_version(n.version) for n in c.node_pools}
    pools_raw = {n.name: n.version for n in c.node_pools}
    started_above = {n for n, v in pools.items() if not v.not_newer_than(cp)}
    for s in p.steps:
        to = parse_version(s.to)
        if s.component is Component.CONTROL_PLANE:
            assert s.pool is None and s.from_ == cp_raw
            assert to > cp, f"control plane downgraded or not moved: {cp} -> {to}"
            assert to.major == cp.major and to.minors_from(cp) <= 1, f"control plane skips a minor: {cp} -> {to}"
            cp, cp_raw = to, s.to
            if c.pools_follow_control_plane:
                continue
            for name, v in pools.items():
                assert cp.minors_from(v) <= max_kubelet_skew(cp), f"pool {name} at {v} beyond skew of {cp}"
        else:
            assert not c.pools_follow_control_plane
            assert s.pool in pools and s.from_ == pools_raw[s.pool]
            assert to > pools[s.pool], f"pool {s.pool} downgraded or not moved: {pools[s.pool]} -> {to}"
            assert to.not_newer_than(cp), f"pool {s.pool} at {to} above its control plane {cp}"
            assert s.max_surge is not None and s.max_unavailable is not None
            assert s.max_surge + s.max_unavailable > 0
            pools[s.pool], pools_raw[s.pool] = to, s.to
    # ends at the target; every pool ends on the control plane's minor (unless it started above it)
    cp_steps = [s for s in p.steps if s.component is Component.CONTROL_PLANE]
    if cp_steps:
        assert cp_steps[-1].to == p.target, f"ends at {cp_steps[-1].to}, target {p.target}"
    else:  # only pools move: the control plane is already at the target
        assert cp.same_release(parse_version(p.target or "")), f"at {cp}, target {p.target}"
    if not c.pools_follow_control_plane:
        for name, v in pools.items():
            assert name in started_above or v.minor_key == cp.minor_key, f"pool {name} ends at {v} under {cp}"


@settings(max_examples=200, deadline=None)
@given(fleets(), st.integers(0, 400), st.randoms(use_true_random=False))
def test_plan_invariants(fleet: Any, minutes: int, rnd: random.Random) -> None:
    pols, cs, offers = fleet
    now = NOW + timedelta(minutes=minutes * 37)
    plan = compute_plan(pols, cs, offers, now)
    assert [c.id for c in plan.clusters] == sorted(c.id for c in cs)
    by_id = plan.by_id()
    for c in cs:
        check_cluster(c, by_id[c.id])
        event(by_id[c.id].status)
    # deterministic: the same input (in any order, with fresh policy objects) gives the identical plan
    shuffled = list(cs)
    rnd.shuffle(shuffled)
    again = compute_plan([p.model_copy() for p in pols], shuffled, dict(offers), now)
    assert again.to_dict() == plan.to_dict()
