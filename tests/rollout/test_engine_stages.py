"""The engine under a fleet rollout, on three simulated clouds in virtual time, proven from the audit log:
a stage never starts a version that has not soaked upstream; a failure upstream stops promotion until
approved; approval between stages; per-stage concurrency and failure budget."""

from __future__ import annotations

from datetime import timedelta

from fleet.clock import FakeClock
from fleet.execution.stages import mark_promotion_approved
from fleet.planning.rollout import release_of
from fleet.state import Store, open_store
from providers.sim.world import Faults
from tests.execution.helpers import drive
from tests.rollout.helpers import FLEET, START, cid, engine, multi_cloud, policy, rollout, stage

DAY = timedelta(days=1)
STAGE_OF = {cid(n): env for _k, _l, n, env in FLEET}


def dispatched(store: Store) -> list[dict]:
    return store.events(kind="step-dispatched", limit=100000)


def reached(store: Store) -> dict[tuple[str, str], object]:
    """(cluster, release) -> when its control plane first reached that release."""
    out: dict[tuple[str, str], object] = {}
    for e in store.events(kind="step-succeeded", limit=100000):
        if e["step_key"].startswith("cp@"):
            out.setdefault((e["cluster_id"], release_of(e["step_key"][3:])), e["at"])
    return out


def all_at(world, version: str) -> bool:
    return all(c.control_plane == version for c in world.clusters.values())


def test_a_stage_never_starts_a_version_that_has_not_soaked_upstream(state_url):
    clock = FakeClock(START)
    world = multi_cloud(clock)
    store = open_store(state_url)
    ro = rollout(stage("dev", "dev", soak="2d"), stage("staging", "staging", soak="3d"), stage("prod", "prod"))
    eng = engine(store, world, clock, [policy()], ro)
    drive(eng, clock, done=lambda: all_at(world, "1.29.8"), max_ticks=3000)
    assert all_at(world, "1.29.8")
    at = reached(store)
    soak = {"staging": ("dev", 2 * DAY), "prod": ("staging", 3 * DAY)}
    checked = 0
    for e in dispatched(store):
        if not e["step_key"].startswith("cp@"):
            continue
        env = STAGE_OF[e["cluster_id"]]
        if env not in soak:
            continue
        up, wait = soak[env]
        rel = release_of(e["step_key"][3:])
        for c, s in STAGE_OF.items():
            if s == up:
                assert at[(c, rel)] + wait <= e["at"], (e, c)
                checked += 1
    assert checked >= 2 * 2 * 1 + 3 * 2 * 2      # every staging and prod control-plane step was checked
    # and nothing waited longer than the soak needs: prod starts 1.28.9 within a day of its qualification
    prod_first = min(e["at"] for e in dispatched(store) if STAGE_OF[e["cluster_id"]] == "prod")
    stg_done = max(at[(c, "1.28.9")] for c, s in STAGE_OF.items() if s == "staging")
    assert prod_first - (stg_done + 3 * DAY) < timedelta(hours=2)
    plan = eng.last_plan
    assert plan is not None and plan.rollout is not None
    assert {cp.stage for cp in plan.clusters} == {"dev", "staging", "prod"}


def test_a_failure_upstream_stops_promotion_until_a_person_approves():
    clock = FakeClock(START)
    dev = cid("dev-1")
    world = multi_cloud(clock, faults=Faults(fail_steps={f"{dev}|cp@1.29.8"}))
    store = open_store("memory://")
    ro = rollout(stage("dev", "dev", soak="1d"), stage("staging", "staging", soak="1d"), stage("prod", "prod"))
    eng = engine(store, world, clock, [policy()], ro)
    drive(eng, clock, until=START + 10 * DAY, max_ticks=3000)
    # 1.28.9 went everywhere; 1.29.8 failed in dev and went nowhere else
    for name, _ in ((n, e) for _k, _l, n, e in FLEET):
        c = world.clusters[cid(name)]
        assert c.control_plane == "1.28.9", (name, c.control_plane)
    keys = {(e["cluster_id"], e["step_key"]) for e in dispatched(store)}
    assert not any(k == "cp@1.29.8" and c != dev for c, k in keys)
    plan = eng.last_plan
    assert plan is not None
    waits = {cp.id: cp.waits_for for cp in plan.clusters}
    assert "failed in stage dev" in (waits[cid("stg-1")] or "")
    # a person approves 1.29.8 for staging: staging takes it, soaks, and prod follows
    mark_promotion_approved(store, clock.now(), "alice", ro, "staging", "1.29.8")
    drive(eng, clock, done=lambda: all(world.clusters[cid(n)].control_plane == "1.29.8"
                                       for _k, _l, n, e in FLEET if e != "dev"), max_ticks=3000)
    stg = [e["at"] for e in dispatched(store) if e["step_key"] == "cp@1.29.8" and STAGE_OF[e["cluster_id"]] ==
           "staging"]
    prod = [e["at"] for e in dispatched(store) if e["step_key"] == "cp@1.29.8" and STAGE_OF[e["cluster_id"]] ==
            "prod"]
    assert stg and prod and min(prod) >= max(stg) + DAY
    assert world.clusters[dev].control_plane == "1.28.9"


def test_approval_between_stages():
    clock = FakeClock(START)
    world = multi_cloud(clock, available=("1.28.3", "1.28.9"))
    store = open_store("memory://")
    ro = rollout(stage("dev", "dev"), stage("staging", "staging"), stage("prod", "prod", approval="required"))
    eng = engine(store, world, clock, [policy(target={"version": "1.28"})], ro)
    drive(eng, clock, until=START + 5 * DAY, max_ticks=2000)
    assert not any(STAGE_OF[e["cluster_id"]] == "prod" for e in dispatched(store))
    assert all(world.clusters[cid(n)].control_plane == "1.28.9" for _k, _l, n, e in FLEET if e != "prod")
    approved = clock.now()
    mark_promotion_approved(store, approved, "bob", ro, "prod", "v1.28.9")
    drive(eng, clock, done=lambda: all_at(world, "1.28.9"), max_ticks=2000)
    assert all_at(world, "1.28.9")
    assert min(e["at"] for e in dispatched(store) if STAGE_OF[e["cluster_id"]] == "prod") >= approved


def _peak(store: Store, clusters: set[str]) -> int:
    active, peak = set(), 0
    for e in store.events(limit=100000):
        if e["cluster_id"] not in clusters:
            continue
        if e["kind"] == "cluster-started":
            active.add(e["cluster_id"])
        elif e["kind"] in ("cluster-upgraded", "cluster-failed", "cluster-blocked"):
            active.discard(e["cluster_id"])
        peak = max(peak, len(active))
    return peak


def test_per_stage_concurrency_across_clouds():
    clock = FakeClock(START)
    world = multi_cloud(clock)
    store = open_store("memory://")
    ro = rollout(stage("dev", "dev"), stage("staging", "staging"), stage("prod", "prod", maxConcurrentClusters=1))
    eng = engine(store, world, clock, [policy()], ro)
    drive(eng, clock, done=lambda: all_at(world, "1.29.8"), max_ticks=3000)
    assert all_at(world, "1.29.8")
    prod = {c for c, s in STAGE_OF.items() if s == "prod"}
    staging = {c for c, s in STAGE_OF.items() if s == "staging"}
    assert _peak(store, prod) == 1
    assert _peak(store, staging) == 2          # no limit there: both at once


def test_per_stage_failure_budget_stops_the_stage():
    clock = FakeClock(START)
    fleet = FLEET + [("gke", "us-east4", "stg-3", "staging")]
    stg1 = cid("stg-1")
    world = multi_cloud(clock, fleet, faults=Faults(fail_steps={f"{stg1}|cp@1.28.9"}))
    store = open_store("memory://")
    ro = rollout(stage("dev", "dev"), stage("staging", "staging", maxConcurrentClusters=1, maxFailures=1),
                 stage("prod", "prod"))
    eng = engine(store, world, clock, [policy()], ro)
    drive(eng, clock, until=START + 6 * DAY, max_ticks=3000)
    failed_at = min(e["at"] for e in store.events(kind="step-failed", limit=1000))
    staging = {cid(n, fleet) for _k, _l, n, e in fleet if e == "staging"}
    later = [e for e in dispatched(store) if e["cluster_id"] in staging and e["at"] > failed_at
             and e["step_key"] == "cp@1.28.9"]
    assert later == []                                   # no further staging cluster started 1.28.9
    assert not any(e["cluster_id"] in {cid("prod-eu"), cid("prod-us"), cid("prod-ap")} for e in dispatched(store))
