"""Observation decoupled from the tick: full discovery on its own cadence, targeted refreshes in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.clock import FakeClock
from fleet.execution.observe import Observer
from fleet.provider import Cluster, NodePool
from providers.sim.adapter import SimProvider
from providers.sim.world import SimWorld

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def world(n: int) -> tuple[FakeClock, SimWorld, SimProvider]:
    clock = FakeClock(T0)
    w = SimWorld(clock)
    for i in range(n):
        w.add(Cluster(provider="sim", location="r1", name=f"c{i}", control_plane="1.29.1",
                      node_pools=(NodePool("p", "1.29.1", 1),), available=("1.29.1", "1.30.1")))
    return clock, w, SimProvider("sim", clock=clock, world=w)


def test_discovery_follows_its_cadence_not_the_tick() -> None:
    clock, _, sim = world(5)
    obs = Observer({"sim": sim}, discovery_interval=timedelta(minutes=10))
    for _ in range(10):                       # ten one-minute ticks: one full discovery
        o = obs.observe_fleet(clock.now())
        assert len(o.clusters) == 5
        clock.advance(timedelta(minutes=1))
    assert obs.calls["discover"] == 1
    obs.observe_fleet(clock.now())            # 10 minutes after the first: due again
    assert obs.calls["discover"] == 2


def test_every_tick_when_the_interval_is_zero() -> None:
    clock, _, sim = world(2)
    obs = Observer({"sim": sim})
    for _ in range(3):
        obs.observe_fleet(clock.now())
        clock.advance(timedelta(minutes=1))
    assert obs.calls["discover"] == 3


def test_refresh_reads_one_cluster_once_per_tick_and_sees_changes() -> None:
    clock, w, sim = world(3)
    obs = Observer({"sim": sim}, discovery_interval=timedelta(minutes=10))
    o = obs.observe_fleet(clock.now())
    cid = sorted(o.clusters)[0]
    assert obs.refresh_cluster(o, cid, clock.now()) is o.clusters[cid]   # discovered this tick: no call
    assert obs.calls["refresh"] == 0
    clock.advance(timedelta(minutes=1))
    o = obs.observe_fleet(clock.now())
    w.clusters[cid].control_plane = "1.30.1"
    w.touch(cid)
    fresh = obs.refresh_cluster(o, cid, clock.now())
    assert fresh is not None and fresh.control_plane == "1.30.1" and o.clusters[cid] is fresh
    obs.refresh_cluster(o, cid, clock.now())
    assert obs.calls == {"discover": 1, "refresh": 1}
    clock.advance(timedelta(minutes=1))
    assert obs.observe_fleet(clock.now()).clusters[cid].control_plane == "1.30.1"   # kept between discoveries


def test_refresh_of_a_gone_cluster_drops_it() -> None:
    clock, w, sim = world(2)
    obs = Observer({"sim": sim}, discovery_interval=timedelta(minutes=10))
    o = obs.observe_fleet(clock.now())
    cid = sorted(o.clusters)[0]
    del w.clusters[cid]
    w.touch(cid)
    clock.advance(timedelta(minutes=1))
    o = obs.observe_fleet(clock.now())
    assert obs.refresh_cluster(o, cid, clock.now()) is None and cid not in o.clusters
