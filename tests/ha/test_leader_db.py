"""Leader election on the state store's lease row (SQLite and PostgreSQL): exactly one replica acts, a standby
takes over within two lease durations when the leader stops renewing (kill -9), and the store fence refuses
every write - and so every provider call - of the old leader after the takeover."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fleet.clock import FakeClock
from fleet.daemon.leader import NO_EPOCH, DatabaseLease, lease_row
from fleet.errors import FencedError
from fleet.state.store import SqlStore as Store
from tests.execution.helpers import START, make_engine, policy, sim_fleet
from tests.ha.helpers import LEASE, ha_fleet, replica

TARGET = "1.30.4"


def test_two_daemons_exactly_one_acts_then_takeover_finishes_without_duplicates(tmp_path, store_url):
    clock = FakeClock(START)
    cfgs = ha_fleet(tmp_path, n=4, concurrency=2, cp="20s", pool="20s", interval="10s", state=store_url)
    a, b = replica(cfgs[0], clock, "A", store_url), replica(cfgs[1], clock, "B", store_url)
    try:
        assert a.leader.step() is True and b.leader.step() is False
        assert a.leader.epoch == 1 and a.store.fence == ("fleet-leader", 1) and b.store.fence[1] == NO_EPOCH
        assert a.metrics.registry.get_sample_value("fleet_leader") == 1
        assert b.metrics.registry.get_sample_value("fleet_leader") == 0
        assert b.ready() == (True, "ok")                      # a standby is ready: it serves reads
        for _ in range(6):                                    # both run their schedule; only A acts
            a.leader.step(), b.leader.step()
            assert a.tick() is not None and b.tick() is None
            clock.advance(LEASE / 3)
        dispatched = a.store.events(kind="step-dispatched")
        assert dispatched and {e["actor"] for e in a.store.events(limit=100000) if e["actor"] != "api"} == {"A"}
        assert {e["data"]["epoch"] for e in dispatched} == {1}
        # kill -9: A never renews again. B takes over within two lease durations of A's last renewal.
        last_renewal = clock.now() - LEASE / 3
        while not b.leader.step():
            clock.advance(LEASE / 6)
            assert clock.now() - last_renewal <= 2 * LEASE, "no takeover within two lease durations"
        assert b.leader.epoch == 2 and lease_row(b.store, "fleet-leader")["holder"] == "B"
        # B reopened its providers (the sim's stateFile, written by A) and finishes the rollout
        for _ in range(400):
            b.leader.step()
            b.tick()
            runs = b.store.runs()
            if runs and all(r.status == "done" for r in runs):
                break
            clock.advance(timedelta(seconds=10))
        assert all(r.status == "done" for r in b.store.runs())
        world = json.loads((tmp_path / "sim-world.json").read_text())
        assert all(c["control_plane"] == TARGET for c in world["clusters"])
        log = [tuple(x) for x in world["upgrade_log"]]
        assert len(log) == len(set(log)), "an upgrade was issued twice"
        assert {e["actor"] for e in b.store.events(kind="step-dispatched", limit=100000)} == {"A", "B"}
        # the old leader wakes up: its scheduler sees no lease (deadline passed) and does nothing ...
        assert a.tick() is None
        # ... and even a tick already past that check is refused by the store before any provider call
        starts = a.engine.providers["sim"].world.calls["start"]
        with pytest.raises(FencedError):
            with a.store.write("late write"):
                pass
        assert a.engine.providers["sim"].world.calls["start"] == starts
    finally:
        a.stop(), b.stop()


def _pair(store_url: str, clock: FakeClock, n: int = 4, concurrency: int = 2):
    world = sim_fleet(clock, n, pools=1, cp_minutes=1, pool_minutes=1)
    pol = [policy(rollout={"maxConcurrentClusters": concurrency})]
    out = []
    for name in ("A", "B"):
        store = Store(store_url)
        eng = make_engine(store, world, clock, pol, actor=name)
        out.append((DatabaseLease(store, "fleet-leader", name, LEASE, clock, engine=eng), eng, store))
    return world, out


def test_old_leader_is_fenced_after_takeover_and_issues_no_provider_call(store_url):
    clock = FakeClock(START)
    world, [(ea, eng_a, sa), (eb, eng_b, sb)] = _pair(store_url, clock)
    assert ea.step() and not eb.step()
    eng_a.reconcile()                                    # A starts the run and dispatches two clusters
    assert len(world.upgrade_log) == 2 and eng_a.epoch == 1
    ea.abandon()                                         # A freezes (SIGSTOP / GC pause / partition)
    clock.advance(LEASE + timedelta(seconds=1))
    assert eb.step() and eb.epoch == 2 and eng_b.epoch == 2
    # A resumes mid-tick, still believing it leads: it has due work (polls, verifications, dispatches) ...
    log_before, starts_before = list(world.upgrade_log), world.calls["start"]
    with pytest.raises(FencedError):
        eng_a.reconcile()
    # ... but the store refused its first write, so it issued nothing
    assert world.upgrade_log == log_before and world.calls["start"] == starts_before
    assert not [e for e in sb.events(limit=100000) if e["actor"] == "A" and e["at"] > START]
    # B, at the new epoch, does the due work and its dispatches carry epoch 2
    for _ in range(200):
        eng_b.reconcile()
        if not sb.runs(active_only=True):
            break
        clock.advance(timedelta(seconds=20))
        assert eb.step()
    assert not sb.runs(active_only=True)
    assert len(world.upgrade_log) == len(set(world.upgrade_log))
    assert {e["data"]["epoch"] for e in sb.events(kind="step-dispatched", limit=100000) if e["actor"] == "B"} == {2}
    # A's next renewal finds B holding the lease: it loses and fences itself
    assert ea.step() is False and not ea.is_leader() and sa.fence == ("fleet-leader", NO_EPOCH)


def test_leader_stops_acting_at_its_renew_deadline_without_the_store(store_url):
    """A leader that cannot renew (store unreachable) stops acting by its own clock, before the lease expires
    for the others, so two replicas never act at once."""
    clock = FakeClock(START)
    _, [(ea, _, sa), (eb, _, _)] = _pair(store_url, clock)
    assert ea.step()
    sa.engine.dispose()
    ea.lease_store = Store("sqlite:///:memory:", migrate=False)     # a store without the leases table
    clock.advance(ea.renew_deadline - timedelta(seconds=1))
    assert ea.step() is True                                          # the attempt fails; still within deadline
    clock.advance(timedelta(seconds=2))
    assert ea.is_leader() is False and ea.step() is False
    assert sa.fence == ("fleet-leader", NO_EPOCH)
    assert eb.step() is False                                         # the lease itself has not expired yet
    clock.advance(LEASE)
    assert eb.step() is True and eb.epoch == 2


def test_release_hands_over_at_once_and_epochs_grow_per_holder(store_url):
    clock = FakeClock(START)
    _, [(ea, _, _), (eb, _, sb)] = _pair(store_url, clock)
    assert ea.step() and not eb.step()
    for _ in range(3):                                               # renewals keep the epoch
        clock.advance(LEASE / 3)
        assert ea.step() and not eb.step() and ea.epoch == 1
    ea.release()
    assert not ea.is_leader()
    assert eb.step() and eb.epoch == 2                               # no waiting for expiry
    eb.release()
    assert ea.step() and ea.epoch == 3
    row = lease_row(sb, "fleet-leader")
    assert row["holder"] == "A" and row["epoch"] == 3


def test_a_store_slower_than_the_renew_period_does_not_cost_the_lease(store_url):
    """Renewals are due a third of the lease after the previous attempt BEGAN (the deadline counts from there
    too): a lease attempt taking 0.6 s of a 1.5 s lease (renew every 0.5 s, deadline 1 s) keeps the lease.
    Spaced from the end of each attempt instead, the second attempt began 1.1 s after the first: lost."""
    import time

    from fleet.clock import SystemClock

    class SlowStoreLease(DatabaseLease):
        def _attempt(self, now):
            time.sleep(0.6)
            return super()._attempt(now)

    store = Store(store_url)
    a = SlowStoreLease(store, "fleet-leader", "A", timedelta(seconds=1.5), SystemClock())
    lost: list[str] = []
    a.on_lose.append(lost.append)
    try:
        a.start()
        assert a.is_leader()
        time.sleep(3.0)                                               # two lease durations
        assert lost == [] and a.epoch == 1
    finally:
        a.abandon()
        store.close()


def test_renew_thread_keeps_the_lease_in_real_time(store_url):
    """start() wins at once and the background thread renews at a third of the lease on the wall clock."""
    from fleet.clock import SystemClock
    clock = SystemClock()
    store = Store(store_url)
    other = Store(store_url)
    a = DatabaseLease(store, "fleet-leader", "A", timedelta(seconds=0.6), clock)
    b = DatabaseLease(other, "fleet-leader", "B", timedelta(seconds=0.6), clock)
    try:
        a.start()
        assert a.is_leader()
        import time
        end = time.monotonic() + 1.5
        while time.monotonic() < end:                                 # 2.5 lease durations: A keeps it
            assert not b.step()
            time.sleep(0.1)
        assert a.is_leader()
        a.abandon()                                                   # kill -9
        t0 = time.monotonic()
        while not b.step():
            time.sleep(0.05)
            assert time.monotonic() - t0 < 1.2, "no takeover within two lease durations"
        assert b.epoch == 2
    finally:
        a.abandon()
        store.close(), other.close()
