"""Gate evaluation cost per engine tick for 1,000 simulated clusters (docs/gates.md, "Cost").

Three measurements, each on the in-memory store and on SQLite (a file in a temp dir):

* pre-flight, blocked: every cluster of one run (maxConcurrentClusters 1000) is blocked by its pre-flight
  gates (upgrade-blockers fails; cluster-health and etcd-backup pass), so each tick evaluates and journals
  3 gates for each of the 1,000 clusters and starts nothing. Printed: wall time per tick, evaluations per
  tick, microseconds per evaluation (journal included), against the same ticks with no gates (baseline:
  the same pending members, held back by a closed maintenance window instead);
* post-step: the whole fleet's first step (1,000 control planes at once) through a nodes-ready gate that
  fails for 2 minutes then passes with a 1-minute settle; printed: virtual-time ticks and wall time of the
  rollout to the end of that step, with and without the gate.

    python bench/gates.py [--clusters 1000] [--ticks 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet.clock import FakeClock  # noqa: E402
from fleet.state import open_store  # noqa: E402
from tests.execution.helpers import START, make_engine, policy, sim_fleet  # noqa: E402

PREFLIGHT = {"preflight": [{"name": "blockers", "type": "upgrade-blockers"},
                           {"name": "health", "type": "cluster-health"},
                           {"name": "backup", "type": "etcd-backup", "maxAge": "24h"}]}
CLOSED = {"windows": [{"days": ["Sun"], "start": "00:00", "duration": "1h"}]}   # START is a Monday


def _store(kind: str, tmp: Path, name: str) -> Any:
    return open_store("memory://" if kind == "memory" else f"sqlite:///{tmp / name}.db")


class _Timed:
    """Wall time spent in the engine's gate keeper (its pre-flight evaluations and their journal)."""

    def __init__(self, gk: Any) -> None:
        self.seconds = 0.0
        for name in ("preflight", "flush"):
            setattr(gk, name, self._wrap(getattr(gk, name)))

    def _wrap(self, fn: Any) -> Any:
        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


def preflight_tick_cost(kind: str, n: int, ticks: int, tmp: Path, gated: bool) -> tuple[float, int, float]:
    """(seconds per tick, gate evaluations per tick, seconds per tick inside the gates) over ``ticks`` ticks
    after the first (run start)."""
    clock = FakeClock(START)
    world = sim_fleet(clock, n, pools=0)
    for cid in world.clusters:
        world.set_checks(cid, blockers={"*": ["deprecated API in use"]}, backup_at=START - timedelta(hours=1))
    store = _store(kind, tmp, f"pre-{gated}")
    spec: dict[str, Any] = {"rollout": {"maxConcurrentClusters": n}}
    spec.update({"gates": PREFLIGHT} if gated else {"maintenance": CLOSED})
    eng = make_engine(store, world, clock, [policy(**spec)])
    eng.reconcile()                               # starts the run (and evaluates once)
    before = len(store.gate_evaluations(limit=10**9))
    timed = _Timed(eng.gatekeeper)
    t0 = time.perf_counter()
    for _ in range(ticks):
        clock.advance(timedelta(minutes=1))
        eng.reconcile()
    took = (time.perf_counter() - t0) / ticks
    assert world.upgrade_log == [], "nothing may start"
    return took, (len(store.gate_evaluations(limit=10**9)) - before) // ticks, timed.seconds / ticks


def post_step_rollout(kind: str, n: int, tmp: Path, gated: bool) -> tuple[int, float]:
    """(ticks, wall seconds) until every cluster finished its first step (1.28.3 -> 1.28.9)."""
    clock = FakeClock(START)
    world = sim_fleet(clock, n, pools=0)
    for cid in world.clusters:
        world.set_checks(cid, nodes_not_ready_for=120)
    store = _store(kind, tmp, f"post-{gated}")
    spec: dict[str, Any] = {"rollout": {"maxConcurrentClusters": n}, "target": {"version": "1.28"}}
    if gated:
        spec["gates"] = {"postStep": [{"name": "nodes", "type": "nodes-ready", "timeout": "15m", "settle": "1m"}]}
    eng = make_engine(store, world, clock, [policy(**spec)])
    ticks, t0 = 0, time.perf_counter()
    while store.runs() == [] or store.runs(active_only=True):
        res = eng.reconcile()
        ticks += 1
        clock.set(max(res.next_wake, clock.now() + timedelta(seconds=1)))
        assert ticks < 2000
    assert all(c.control_plane == "1.28.9" for c in world.clusters.values())
    return ticks, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--ticks", type=int, default=5)
    args = ap.parse_args()
    n = args.clusters
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"gate evaluation cost, {n} simulated clusters")
        for kind in ("memory", "sqlite"):
            (tmp / kind).mkdir()
            base, _, _ = preflight_tick_cost(kind, n, args.ticks, tmp / kind, gated=False)
            took, evals, in_gates = preflight_tick_cost(kind, n, args.ticks, tmp / kind, gated=True)
            per = in_gates / evals * 1e6 if evals else 0.0
            print(f"  {kind:6s} pre-flight, all blocked: {took * 1000:8.1f} ms/tick, of which {in_gates * 1000:.1f} ms "
                  f"in the gates ({evals} evaluations/tick: {per:.0f} us each, journal included); "
                  f"the same members held back by a closed window instead: {base * 1000:.1f} ms/tick")
        for kind in ("memory", "sqlite"):
            t_plain, s_plain = post_step_rollout(kind, n, tmp / kind, gated=False)
            t_gated, s_gated = post_step_rollout(kind, n, tmp / kind, gated=True)
            print(f"  {kind:6s} post-step (nodes-ready, settle 1m), first step of all {n}: "
                  f"{t_gated} ticks / {s_gated:.1f} s wall with the gate, {t_plain} ticks / {s_plain:.1f} s without")


if __name__ == "__main__":
    main()
