"""Forecast benchmark: 1,000 clusters (bench/plan.py's generator) simulated over a year of windows with the
real engine on the simulated provider. Prints wall time, engine ticks, peak RSS and when the fleet is done.
Target: seconds, not minutes. Wall time is measured without tracing; ``--trace-memory`` adds a second,
traced run for the peak of Python allocations (tracemalloc slows the run several-fold, so it is not timed)."""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan import build_clusters, build_offers, build_policies  # noqa: E402

from fleet.reports.forecast import forecast_fleet  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--trace-memory", action="store_true", help="a second, traced run for the allocation peak")
    args = ap.parse_args(argv)
    rng = random.Random(7)
    policies = build_policies(rng)
    clusters = build_clusters(rng, args.clusters)
    offers = build_offers()
    start = datetime(2026, 11, 23, tzinfo=UTC)
    t0 = time.perf_counter()
    fc = forecast_fleet(policies, clusters, offers, start, horizon=timedelta(days=args.days))
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traced = None
    if args.trace_memory:
        tracemalloc.start()
        forecast_fleet(policies, clusters, offers, start, horizon=timedelta(days=args.days))
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    counts: dict[str, int] = {}
    for c in fc.clusters.values():
        counts[c.status] = counts.get(c.status, 0) + 1
    print(f"clusters            {len(clusters)}")
    print(f"horizon             {args.days} days")
    print(f"wall time           {wall:.2f} s")
    print(f"engine ticks        {fc.ticks}")
    print(f"ticks per second    {fc.ticks / wall:,.0f}")
    print(f"peak RSS            {rss:.0f} MB")
    if traced is not None:
        print(f"peak traced memory  {traced:.1f} MB (second, traced run)")
    print(f"statuses            {dict(sorted(counts.items()))}")
    print(f"fleet done          {fc.fleet_done.isoformat() if fc.fleet_done else 'not within the horizon'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
