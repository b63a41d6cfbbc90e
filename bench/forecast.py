"""Forecast benchmark: 1,000 clusters (bench/plan.py's generator) simulated over a year of windows with the
real engine on the simulated provider. Prints wall time, engine ticks and when the fleet is done.
Target: seconds, not minutes."""

from __future__ import annotations

import argparse
import random
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
    args = ap.parse_args(argv)
    rng = random.Random(7)
    policies = build_policies(rng)
    clusters = build_clusters(rng, args.clusters)
    offers = build_offers()
    start = datetime(2026, 11, 23, tzinfo=UTC)
    tracemalloc.start()
    t0 = time.perf_counter()
    fc = forecast_fleet(policies, clusters, offers, start, horizon=timedelta(days=args.days))
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    counts: dict[str, int] = {}
    for c in fc.clusters.values():
        counts[c.status] = counts.get(c.status, 0) + 1
    print(f"clusters            {len(clusters)}")
    print(f"horizon             {args.days} days")
    print(f"wall time           {wall:.2f} s")
    print(f"engine ticks        {fc.ticks}")
    print(f"peak traced memory  {peak:.1f} MB")
    print(f"statuses            {dict(sorted(counts.items()))}")
    print(f"fleet done          {fc.fleet_done.isoformat() if fc.fleet_done else 'not within the horizon'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
