"""Engine behaviour on the simulated provider in virtual time, proven from the audit log.
Every test runs on SQLite, on PostgreSQL and on the in-memory store the forecast uses (the state_url
fixture); the crash test needs a durable store and runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fleet.clock import FakeClock
from fleet.errors import NotFoundError
from fleet.execution.commands import approve_wave, retry_run, set_paused
from fleet.planning.windows import Schedule
from fleet.provider import Cluster, NodePool
from fleet.state import Store, open_store
from fleet.state.store import SqlStore
from providers.sim.world import Faults
from tests.execution.helpers import OFFERED, START, all_at, drive, finished, make_engine, policy, sim_fleet

TARGET = "1.30.4"


def dispatches(store: Store) -> list[dict]:
    return store.events(kind="step-dispatched", limit=100000)


def test_rollout_completes_without_duplicates(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 6, pools=2)
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 3})])
    drive(eng, clock, done=finished(store, world))
    assert all_at(world, TARGET)
    assert len(world.upgrade_log) == len(set(world.upgrade_log)) == 6 * (3 + 6)
    # every dispatch is in the audit log with its result
    ok = {(e["cluster_id"], e["step_key"]) for e in store.events(kind="step-succeeded", limit=100000)}
    assert {(e["cluster_id"], e["step_key"]) for e in dispatches(store)} == ok
    assert store.runs()[0].status == "done"


def test_no_step_starts_outside_a_window_or_inside_an_exclusion(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 4)
    maintenance = {"timezone": "Europe/Berlin",
                   "windows": [{"days": ["Tue", "Sat"], "start": "23:00", "duration": "2h"}],
                   "exclusions": [{"start": "2026-01-10T00:00:00", "end": "2026-01-14T00:00:00",
                                   "scope": "no-minor-upgrades"}]}
    pol = policy(maintenance=maintenance, rollout={"maxConcurrentClusters": 4})
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [pol])
    drive(eng, clock, done=finished(store, world), max_ticks=20000)
    assert all_at(world, TARGET)
    sched = Schedule.from_maintenance(pol.spec.maintenance)
    evs = dispatches(store)
    assert evs
    for e in evs:
        assert sched.allows(e["at"], bool(e["data"]["minor"])), e
    # in-flight operations may run past the window's end, but nothing new starts after it
    assert any(not sched.allows(e["at"], False) for e in store.events(kind="step-succeeded", limit=100000))


def test_never_more_than_max_concurrent_clusters(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 10, pools=1)
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 3})])
    drive(eng, clock, done=finished(store, world))
    active, peak = set(), 0
    for e in store.events(limit=100000):
        if e["kind"] == "cluster-started":
            active.add(e["cluster_id"])
        elif e["kind"] in ("cluster-upgraded", "cluster-failed", "cluster-blocked"):
            active.discard(e["cluster_id"])
        peak = max(peak, len(active))
    assert peak == 3


def test_waves_run_in_order_with_their_soak(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 6, labels=lambda i: {"ring": "canary" if i < 2 else "main"})
    pol = policy(rollout={"maxConcurrentClusters": 6, "waves": [
        {"name": "canary", "selector": {"matchLabels": {"ring": "canary"}}, "soak": "6h"},
        {"name": "main"}]})
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [pol])
    drive(eng, clock, done=finished(store, world))
    canary = {f"sim/lab/c{i:04d}" for i in range(2)}
    done = [e for e in store.events(kind="wave-done", limit=1000) if "canary" in e["message"]]
    assert len(done) == 1
    main_starts = [e["at"] for e in store.events(kind="cluster-started", limit=1000) if e["cluster_id"] not in canary]
    canary_ends = [e["at"] for e in store.events(kind="cluster-upgraded", limit=1000) if e["cluster_id"] in canary]
    assert min(main_starts) >= max(canary_ends) + timedelta(hours=6)
    assert min(main_starts) == done[0]["at"] + timedelta(hours=6)


def test_wave_waits_for_approval(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 3, labels=lambda i: {"ring": "canary" if i == 0 else "main"})
    pol = policy(rollout={"maxConcurrentClusters": 3, "waves": [
        {"name": "canary", "selector": {"matchLabels": {"ring": "canary"}}},
        {"name": "main", "approval": "required"}]})
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [pol])
    drive(eng, clock, until=START + timedelta(days=3))
    started = {e["cluster_id"] for e in store.events(kind="cluster-started", limit=1000)}
    assert started == {"sim/lab/c0000"}
    run_id = store.runs()[0].id
    with pytest.raises(NotFoundError):
        approve_wave(store, clock.now(), run_id, "nope", "test")
    approve_wave(store, clock.now(), run_id, "main", "test")
    drive(eng, clock, done=finished(store, world))
    assert all_at(world, TARGET)
    assert store.events(kind="wave-approved")[0]["actor"] == "test"


def test_halt_at_max_failures_then_resume_and_retry(state_url):
    clock = FakeClock(START)
    bad = {"sim/lab/c0000|cp@1.28.9", "sim/lab/c0001|cp@1.28.9"}
    world = sim_fleet(clock, 5, faults=Faults(fail_steps=set(bad)))
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 2, "maxFailures": 2})])
    drive(eng, clock, until=START + timedelta(days=2))
    run = store.runs()[0]
    assert run.status == "halted"
    halted_at = store.events(kind="run-halted")[0]["at"]
    assert all(e["at"] <= halted_at for e in dispatches(store))
    assert not all_at(world, TARGET)
    set_paused(store, clock.now(), False, "test")          # `fleet resume`
    drive(eng, clock, until=clock.now() + timedelta(days=2))
    statuses = {m.cluster_id: m.status for m in store.members(run.id)}
    assert statuses["sim/lab/c0000"] == statuses["sim/lab/c0001"] == "failed"
    assert [s for c, s in statuses.items() if c not in ("sim/lab/c0000", "sim/lab/c0001")] == ["done"] * 3
    # no new run picks the failed clusters up by itself
    assert len(store.runs()) == 1
    world.faults.fail_steps.clear()
    assert retry_run(store, clock.now(), run.id, "test") == 2
    drive(eng, clock, done=finished(store, world))
    assert all_at(world, TARGET)
    keys = list(world.upgrade_log)
    # the failed step was issued once, then once more after the explicit retry: never more
    assert max(keys.count(k) for k in keys) <= 2


def test_pause_stops_new_steps(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 4)
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 1})])
    drive(eng, clock, until=START + timedelta(minutes=5))
    assert dispatches(store)
    set_paused(store, clock.now(), True, "test")
    paused_at = clock.now()
    drive(eng, clock, until=paused_at + timedelta(days=3))
    assert all(e["at"] <= paused_at for e in dispatches(store))
    # the in-flight operation finished while paused
    assert store.events(kind="step-succeeded")
    set_paused(store, clock.now(), False, "test")
    drive(eng, clock, done=finished(store, world))
    assert all_at(world, TARGET)


def test_editing_a_policy_never_changes_a_run_in_flight(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 2)
    store = open_store(state_url)
    policies = [policy(rollout={"maxConcurrentClusters": 1})]
    eng = make_engine(store, world, clock, policies)
    drive(eng, clock, until=START + timedelta(minutes=10))
    policies[0] = policy(target={"version": "1.29"}, rollout={"maxConcurrentClusters": 1})
    drive(eng, clock, done=finished(store, world))
    assert all_at(world, TARGET)       # the run's snapshot (1.30) wins over the edit (1.29)
    assert len(store.runs()) == 1


class SimulatedCrash(BaseException):
    """Stands for kill -9: it unwinds through every handler."""


class CrashingProvider:
    def __init__(self, inner, crash_at: int, after: bool):
        self.inner, self.crash_at, self.after, self.calls = inner, crash_at, after, 0
        self.name = inner.name

    def _maybe(self, method, *args):
        self.calls += 1
        if self.calls == self.crash_at and not self.after:
            raise SimulatedCrash
        out = getattr(self.inner, method)(*args)
        if self.calls == self.crash_at and self.after:
            raise SimulatedCrash       # the cloud got the call; the engine never learned the result
        return out

    def discover(self):
        return self.inner.discover()

    def offers(self, c):
        return self.inner.offers(c)

    def check_step(self, c, s):
        return []

    def start(self, c, s):
        return self._maybe("start", c, s)

    def poll(self, c, o):
        return self._maybe("poll", c, o)


@pytest.mark.parametrize("seed", range(12))
def test_crash_at_random_points_never_repeats_an_upgrade(store_url, seed):
    import random
    rng = random.Random(seed)
    clock = FakeClock(START)
    world = sim_fleet(clock, 3, pools=2)
    pol = [policy(rollout={"maxConcurrentClusters": 2})]
    crashes = 0
    for _life in range(40):
        store = SqlStore(store_url)
        from providers.sim.adapter import SimProvider
        inner = SimProvider("sim", clock=clock, world=world)
        prov = CrashingProvider(inner, crash_at=rng.randint(1, 12), after=rng.random() < 0.5)
        commit_crash = rng.randint(1, 40)
        commits = {"n": 0}

        def hook(what: str) -> None:
            commits["n"] += 1
            if commits["n"] == commit_crash:
                raise SimulatedCrash

        store.after_commit = hook
        eng = make_engine(store, world, clock, pol, provider=prov)
        try:
            drive(eng, clock, done=finished(store, world))
        except SimulatedCrash:
            crashes += 1
            store.close()
            clock.advance(timedelta(seconds=rng.randint(0, 600)))
            continue
        break
    assert crashes >= 3
    assert all_at(world, TARGET), [(c.id, c.control_plane) for c in world.clusters.values()]
    assert len(world.upgrade_log) == len(set(world.upgrade_log)), "an upgrade was issued twice"


def test_a_cluster_eligible_mid_run_waits_for_the_run_never_two_in_flight(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 1)
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 1})])
    drive(eng, clock, until=START + timedelta(minutes=5))
    assert dispatches(store)
    # a new cluster appears while c0000 upgrades
    world.add(Cluster(provider="sim", location="lab", name="c0001", control_plane="1.28.3",
                      node_pools=(NodePool("pool0", "1.28.3", 3),), available=OFFERED))
    drive(eng, clock, done=finished(store, world))
    assert all_at(world, TARGET)
    active, peak = set(), 0
    for e in store.events(limit=100000):
        if e["kind"] == "cluster-started":
            active.add(e["cluster_id"])
        elif e["kind"] in ("cluster-upgraded", "cluster-failed", "cluster-blocked"):
            active.discard(e["cluster_id"])
        peak = max(peak, len(active))
    assert peak == 1
    runs = store.runs()
    assert len(runs) == 2 and runs[0].updated_at <= runs[1].created_at   # the second run began after the first
