"""Rollout benchmark: 1,000 simulated clusters in 4 waves, windows always open, identical step durations,
virtual time, the real engine on a real SQLite store.

Prints the makespan against the ideal — sum over waves of ceil(clusters / concurrency) x work per cluster,
plus the soaks between waves — the provider calls per step, and the wall time.
Targets: makespan within 5% of the ideal, at most 10 calls per step, under 60 s wall.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleet.clock import FakeClock
from fleet.execution.driver import drive
from fleet.execution.engine import Engine
from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, NodePool
from fleet.state.store import SqlStore
from providers.sim.adapter import SimProvider
from providers.sim.world import SimWorld

CP = timedelta(minutes=20)
POOL = timedelta(minutes=10)       # one batch: a 3-node pool with maxSurge 3 rolls in one batch
SOAK = timedelta(hours=2)
WAVES = ("canary", "early", "main", "late")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    args = ap.parse_args(argv)
    n, conc = args.clusters, args.concurrency
    start = datetime(2026, 11, 23, tzinfo=UTC)
    clock = FakeClock(start)
    world = SimWorld(clock, cp_duration=CP, pool_duration=POOL)
    sizes = [n // 20, n // 5, n // 2]
    sizes.append(n - sum(sizes))
    i = 0
    for w, size in zip(WAVES, sizes, strict=True):
        for _ in range(size):
            world.add(Cluster(provider="sim", location="bench", name=f"c{i:05d}", control_plane="1.29.8",
                              node_pools=(NodePool("pool", "1.29.8", 3),), labels={"wave": w},
                              available=("1.29.8", "1.30.4")))
            i += 1
    policy = UpgradePolicy.model_validate({
        "apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": "bench"},
        "spec": {"target": {"version": "1.30"}, "nodePools": {"maxSurge": 3, "maxUnavailable": 0},
                 "rollout": {"maxConcurrentClusters": conc, "maxFailures": 1000,
                             "waves": [{"name": w, "selector": {"matchLabels": {"wave": w}}, "soak": "2h"}
                                       for w in WAVES]}}})
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{Path(tmp) / 'bench.db'}")
        engine = Engine(store, {"sim": SimProvider("sim", clock=clock, world=world)}, lambda: [policy], clock,
                        reconcile_interval=timedelta(minutes=5))
        t0 = time.perf_counter()
        # until every run has finished (after the first tick, which starts them)
        ticks = drive(engine, clock, stop=lambda res: res.at > start and not store.runs(active_only=True),
                      max_ticks=10**9)
        wall = time.perf_counter() - t0
        steps = store.steps()
        upgraded = [e["at"] for e in store.events(kind="cluster-upgraded", limit=10**9)]
    makespan = max(upgraded) - start
    work = CP + POOL
    ideal = sum((math.ceil(s / conc) * work for s in sizes), timedelta(0)) + SOAK * (len(WAVES) - 1)
    calls = [s.provider_calls for s in steps]
    print(f"clusters                 {n} in {len(WAVES)} waves {sizes}, maxConcurrentClusters {conc}")
    print(f"work per cluster         {work} (control plane {CP} + node pool {POOL}); soak {SOAK}")
    print(f"ideal makespan           {ideal}")
    print(f"makespan                 {makespan}  ({(makespan / ideal - 1) * 100:+.2f}% vs ideal)")
    print(f"steps                    {len(steps)}; upgrade calls issued {len(world.upgrade_log)} "
          f"(duplicates {len(world.upgrade_log) - len(set(world.upgrade_log))})")
    print(f"provider calls per step  mean {sum(calls) / len(calls):.2f}, max {max(calls)}")
    print(f"engine ticks             {ticks}")
    print(f"wall time                {wall:.1f} s")
    ok = makespan <= ideal * 1.05 and max(calls) <= 10 and wall < 60
    print("targets                  " + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
