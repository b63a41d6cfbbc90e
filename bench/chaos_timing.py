"""Chaos scenarios for time of check = time of use (#22), run by ``bench/chaos.py --scenario timing``.

Both run the real Engine over the sim provider in virtual time (a FakeClock that the slow provider's calls
advance, so a tick lasts many virtual minutes) on a SQLite store, and both are measured from the sim's OWN log:
the simulated cloud records the virtual instant at which it accepted each upgrade (``CallLog``), never the
journal.

* slow provider: every call answers after ``--slow-call`` seconds, and a start that the cloud accepts as a new
  upgrade after ``--slow-start`` seconds, longer than the adapter's ``--adapter-timeout`` (the adapter gives
  up: a TemporaryProviderError although the cloud accepted the upgrade; the engine's retry, through the
  idempotent start, finds the same operation). Maintenance windows of
  ``--window-minutes`` open every other window length, so windows close while a tick runs.
  Counted: upgrades the cloud accepted at an instant its window did not allow.
* pause storm: ``--storm-clusters`` clusters; another thread pauses and resumes the fleet ``--storm-pauses``
  times while the ticks run (each command in its own store connection, like the API or the CLI). A pause is
  acknowledged when ``set_paused`` returned; the storm freezes the virtual clock while it commits, so the
  acknowledgement's instant is exact. Counted: upgrades the cloud accepted strictly after an acknowledged
  pause and before the following resume (an upgrade at the very instant of the acknowledgement raced it: the
  engine read the switch before the commit - concurrent, not after).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.clock import FakeClock
from fleet.errors import TemporaryProviderError
from fleet.execution.commands import set_paused
from fleet.execution.driver import drive
from fleet.execution.engine import Engine
from fleet.planning.windows import Schedule
from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, NodePool, OperationRef, OperationStatus, Step, VersionOffers
from fleet.state import open_store
from providers.sim.adapter import SimProvider
from providers.sim.world import SimOperation, SimWorld

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)     # a Monday
OFFERED = ("1.28.3", "1.28.9", "1.29.2", "1.29.8", "1.30.4")
TARGET = "1.30.4"


class HoldableClock(FakeClock):
    """A FakeClock whose advances can be held back (``frozen``) while another thread acts at one instant."""

    def __init__(self, start: datetime):
        super().__init__(start)
        self.hold = threading.RLock()

    def advance(self, delta: timedelta | float) -> datetime:
        with self.hold:
            return super().advance(delta)

    def set(self, instant: datetime) -> None:
        with self.hold:
            super().set(instant)

    @contextmanager
    def frozen(self) -> Iterator[datetime]:
        with self.hold:
            yield self.now()


class CallLog(SimWorld):
    """The simulated cloud, recording the virtual instant at which it accepted each upgrade (its own log)."""

    def __init__(self, clock: FakeClock, **kw: Any):
        super().__init__(clock, **kw)
        self.accepted: list[tuple[datetime, str, str]] = []     # (instant, cluster id, step key)

    def add_operation(self, op: SimOperation) -> None:
        if op.state == "running":                  # a no-op "already there" operation upgrades nothing
            self.accepted.append((self.clock.now(), op.cluster_id, op.step_key))
        super().add_operation(op)


class SlowCloud:
    """The sim provider behind a slow network: every call answers ``call`` seconds late, a start ``start``
    seconds late; the adapter waits at most ``timeout`` and then reports a timeout (TemporaryProviderError),
    although the cloud accepted the call."""

    def __init__(self, inner: SimProvider, clock: FakeClock, *, call: float, start: float, timeout: float):
        self.inner, self.clock = inner, clock
        self.call, self.start_s, self.timeout = call, start, timeout
        self.timeouts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _answer(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=min(seconds, self.timeout)))
        if seconds > self.timeout:
            self.timeouts += 1
            raise TemporaryProviderError(f"timed out after {self.timeout:.0f} s", provider="sim", code="timeout")

    def discover(self) -> list[Cluster]:
        out = self.inner.discover()
        self._answer(self.call)
        return out

    def offers(self, cluster: Cluster) -> VersionOffers:
        out = self.inner.offers(cluster)
        self._answer(self.call)
        return out

    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        world = self.inner.world
        before = len(world.accepted)
        ref = self.inner.start(cluster, step)      # the cloud acts on arrival; its answer is what is slow
        # accepting a new upgrade answers late (past the timeout); the idempotent re-ask answers like any call
        self._answer(self.start_s if len(world.accepted) > before else self.call)
        return ref

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        out = self.inner.poll(cluster, op)
        self._answer(self.call)
        return out


def _world(clock: FakeClock, n: int) -> CallLog:
    world = CallLog(clock, cp_duration=timedelta(minutes=10), pool_duration=timedelta(minutes=5))
    for i in range(n):
        world.add(Cluster(provider="sim", location="lab", name=f"c{i:04d}", control_plane="1.28.3",
                          node_pools=(NodePool("pool0", "1.28.3", 3),), available=OFFERED))
    return world


def _policy(max_concurrent: int, windows: list[dict[str, Any]] | None) -> UpgradePolicy:
    spec: dict[str, Any] = {"target": {"version": "1.30"},
                            "rollout": {"maxConcurrentClusters": max_concurrent, "maxFailures": 1000}}
    if windows is not None:
        spec["maintenance"] = {"timezone": "UTC", "windows": windows}
    return UpgradePolicy.model_validate({"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy",
                                         "metadata": {"name": "chaos"}, "spec": spec})


def _windows(minutes: int) -> list[dict[str, Any]]:
    """A window of ``minutes`` every 2 x ``minutes`` around the clock, every day."""
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    return [{"days": days, "start": f"{m // 60:02d}:{m % 60:02d}", "duration": f"{minutes}m"}
            for m in range(0, 24 * 60, 2 * minutes)]


def _at_target(world: SimWorld) -> int:
    return sum(c.control_plane == TARGET and all(p.version == TARGET for p in c.pools)
               for c in world.clusters.values())


@dataclass
class Figures:
    name: str
    clusters: int
    upgraded: int = 0
    accepted: int = 0
    violations: int = 0
    worst_late_s: float = 0.0
    ticks: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


def run_slow_provider(args: argparse.Namespace, work: Path) -> Figures:
    clock = HoldableClock(START)
    world = _world(clock, args.slow_clusters)
    pol = _policy(args.slow_concurrency, _windows(args.window_minutes))
    store = open_store(f"sqlite:///{work}/slow.db")
    cloud = SlowCloud(SimProvider("sim", clock=clock, world=world), clock, call=args.slow_call,
                      start=args.slow_start, timeout=args.adapter_timeout)
    eng = Engine(store, {"sim": cloud}, lambda: [pol], clock, reconcile_interval=timedelta(minutes=1))
    ticks = drive(eng, clock, until=START + timedelta(days=args.days), max_ticks=200000,
                  stop=lambda _r: _at_target(world) == args.slow_clusters and not store.runs(active_only=True))
    sched = Schedule.from_maintenance(pol.spec.maintenance)
    fig = Figures("slow provider", args.slow_clusters, _at_target(world), len(world.accepted), ticks=ticks)
    for at, _cid, _key in world.accepted:
        if not sched.allows(at, True):
            fig.violations += 1
    fig.notes["adapter timeouts (cloud accepted, adapter gave up)"] = cloud.timeouts
    fig.notes["virtual duration"] = str(clock.now() - START)
    store.close()
    return fig


class PauseStorm(threading.Thread):
    """Pauses and resumes the fleet through its own store until told to stop (at least ``rounds`` times),
    recording the acknowledged (pause instant, resume instant) intervals; it always ends resumed."""

    def __init__(self, url: str, clock: HoldableClock, rounds: int, seed: int):
        super().__init__(daemon=True)
        self.store = open_store(url)
        self.clock, self.rounds, self.rng = clock, rounds, random.Random(seed)
        self.paused: list[tuple[datetime, datetime]] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def _command(self, paused: bool) -> datetime:
        with self.clock.frozen() as at:      # no virtual time passes while the command commits
            set_paused(self.store, at, paused, "storm")
            return at

    def run(self) -> None:
        try:
            while len(self.paused) < self.rounds or not self.stop.is_set():
                self.stop.wait(self.rng.uniform(0.0, 0.01))
                p = self._command(True)
                self.stop.wait(self.rng.uniform(0.0, 0.01))
                self.paused.append((p, self._command(False)))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc
        finally:
            self.store.close()


def run_pause_storm(args: argparse.Namespace, work: Path) -> Figures:
    clock = HoldableClock(START)
    world = _world(clock, args.storm_clusters)
    pol = _policy(args.storm_concurrency, None)
    url = f"sqlite:///{work}/storm.db"
    store = open_store(url)
    cloud = SlowCloud(SimProvider("sim", clock=clock, world=world), clock, call=args.storm_call,
                      start=args.storm_call, timeout=args.adapter_timeout)
    eng = Engine(store, {"sim": cloud}, lambda: [pol], clock, reconcile_interval=timedelta(minutes=1))
    storm = PauseStorm(url, clock, args.storm_pauses, args.seed)
    storm.start()
    try:
        ticks = drive(eng, clock, until=START + timedelta(days=args.days), max_ticks=200000,
                      stop=lambda _r: storm.error is not None or (
                          _at_target(world) == args.storm_clusters and not store.runs(active_only=True)))
    finally:
        storm.stop.set()
        storm.join()
    if storm.error is not None:
        raise storm.error
    fig = Figures("pause storm", args.storm_clusters, _at_target(world), len(world.accepted), ticks=ticks)
    for at, _cid, _key in world.accepted:
        for p, r in storm.paused:
            if p < at < r:
                fig.violations += 1
                fig.worst_late_s = max(fig.worst_late_s, (at - p).total_seconds())
                break
    fig.notes["pauses acknowledged"] = len(storm.paused)
    fig.notes["upgrades accepted while a pause/resume round ran"] = sum(
        1 for at, _c, _k in world.accepted if storm.paused and storm.paused[0][0] <= at <= storm.paused[-1][1])
    store.close()
    return fig


def add_arguments(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("timing scenarios (--scenario timing)")
    g.add_argument("--slow-clusters", type=int, default=72)
    g.add_argument("--slow-concurrency", type=int, default=24)
    g.add_argument("--slow-call", type=float, default=15.0, help="seconds every call takes to answer")
    g.add_argument("--slow-start", type=float, default=25.0, help="seconds a start takes to answer")
    g.add_argument("--adapter-timeout", type=float, default=20.0)
    g.add_argument("--window-minutes", type=int, default=10)
    g.add_argument("--storm-clusters", type=int, default=300)
    g.add_argument("--storm-concurrency", type=int, default=50)
    g.add_argument("--storm-call", type=float, default=2.0, help="seconds every call takes in the storm")
    g.add_argument("--storm-pauses", type=int, default=200)
    g.add_argument("--days", type=int, default=7, help="virtual days a scenario may take")


def run_timing(args: argparse.Namespace) -> int:
    """Run both scenarios, print their figures; 0 when no upgrade started outside a window or after a pause."""
    rows: list[tuple[str, str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="fleet-chaos-timing-") as tmp:
        slow = run_slow_provider(args, Path(tmp))
        storm = run_pause_storm(args, Path(tmp))
    for fig, what in ((slow, "steps started outside windows"), (storm, "steps started after an acknowledged pause")):
        print(f"{fig.name}: {fig.clusters} clusters, {fig.upgraded} at {TARGET}, {fig.accepted} upgrades accepted "
              f"by the cloud, {fig.ticks} ticks; " + ", ".join(f"{k}: {v}" for k, v in fig.notes.items()))
        rows.append((f"{fig.name}: {what} (the sim's own log)", str(fig.violations), fig.violations == 0))
        rows.append((f"{fig.name}: clusters upgraded", f"{fig.upgraded} / {fig.clusters}", fig.upgraded == fig.clusters))
    print()
    for name, value, ok in rows:
        print(f"  {name:<66} {value:>12}   {'ok' if ok else 'FAILED'}")
    return 0 if all(ok for _, _, ok in rows) else 1
