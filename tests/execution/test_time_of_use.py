"""Time of check = time of use (#22): a tick may last minutes against slow providers; every provider.start is
checked against the clock, the pause switch and the window as they are right before the call, and journaled
with that instant. Proven from the provider's own call log, not from the journal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fleet.clock import FakeClock
from fleet.execution.commands import set_paused
from fleet.planning.windows import Schedule
from fleet.provider import Cluster, OperationRef, Step
from fleet.state import Store, open_store
from providers.sim.adapter import SimProvider
from tests.execution.helpers import START, all_at, drive, finished, make_engine, policy, sim_fleet

WINDOW = {"timezone": "UTC", "windows": [{"days": ["Mon"], "start": "00:00", "duration": "1h"}]}


class SlowProvider:
    """A Provider test double: the sim provider behind calls that take (virtual) time, logging when each
    start was entered. ``on_start`` runs inside the call (e.g. an operator pausing the fleet meanwhile)."""

    def __init__(self, inner: SimProvider, clock: FakeClock, *, discover: timedelta = timedelta(0),
                 start: timedelta = timedelta(0), on_start: Any = None):
        self.inner, self.clock = inner, clock
        self.discover_takes, self.start_takes, self.on_start = discover, start, on_start
        self.starts: list[tuple[datetime, str, str]] = []     # (entered at, cluster id, step key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def discover(self) -> list[Cluster]:
        self.clock.advance(self.discover_takes)
        return self.inner.discover()

    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        self.starts.append((self.clock.now(), cluster.id, step.key))
        self.clock.advance(self.start_takes)
        ref = self.inner.start(cluster, step)
        if self.on_start is not None:
            self.on_start(len(self.starts))
        return ref


def dispatched(store: Store) -> list[dict]:
    return store.events(kind="step-dispatched", limit=100000)


def test_a_slow_tick_never_starts_a_step_after_its_window_closed(state_url):
    clock = FakeClock(START)          # Monday 00:00 UTC: the window is open for one hour
    world = sim_fleet(clock, 4)
    pol = policy(maintenance=WINDOW, rollout={"maxConcurrentClusters": 4})
    store = open_store(state_url)
    slow = SlowProvider(SimProvider("sim", clock=clock, world=world), clock,
                        discover=timedelta(minutes=1), start=timedelta(minutes=25))
    eng = make_engine(store, world, clock, [pol], provider=slow, reconcile_interval=timedelta(hours=1))
    res = eng.reconcile()             # one tick: 3 starts fit before 01:00, the 4th would begin at 01:16
    sched = Schedule.from_maintenance(pol.spec.maintenance)
    assert len(slow.starts) == 3 and res.dispatched == 3
    assert res.next_wake <= START + timedelta(days=7)             # wakes at the next opening at the latest
    slow.discover_takes = timedelta(0)
    drive(eng, clock, until=START + timedelta(days=22))
    assert len(slow.starts) >= 9                       # three more windows passed, each with its starts
    for at, cid, key in slow.starts:
        assert sched.allows(at, True), (at, cid, key)
    # the journal stamps the real call time, not the tick's start
    assert sorted((e["at"], e["cluster_id"], e["step_key"]) for e in dispatched(store)) == sorted(slow.starts)
    started = {(s.cluster_id, s.key): s.started_at for s in store.steps()}
    assert all(started[(cid, key)] == at for at, cid, key in slow.starts)


def test_a_pause_issued_during_a_tick_stops_the_rest_of_it(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 4)
    store = open_store(state_url)
    paused_at: list[datetime] = []

    def operator_pauses(calls: int) -> None:
        if calls == 2:
            paused_at.append(clock.now())
            set_paused(store, clock.now(), True, "op")

    slow = SlowProvider(SimProvider("sim", clock=clock, world=world), clock, start=timedelta(seconds=20),
                        on_start=operator_pauses)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 4})], provider=slow)
    eng.reconcile()
    assert len(slow.starts) == 2                      # the call in flight when the pause came, and none after
    drive(eng, clock, until=paused_at[0] + timedelta(days=2))
    assert all(at < paused_at[0] for at, _cid, _key in slow.starts)
    set_paused(store, clock.now(), False, "op")
    drive(eng, clock, done=finished(store, world), max_ticks=20000)
    assert all_at(world, "1.30.4")
