"""EKS: one cold discovery of N clusters, measured (not extrapolated), the emulator in its own process.

bench/scale_api.py runs each emulator inside the bench's interpreter, so its EKS figure pays the emulator's
CPU (moto behind the model checks: about 3 ms a request) on the client's core. Here the EKS emulator runs in
a separate process (forked before the client starts any thread), so the client's wall time and CPU are its
own; the emulator's CPU is printed beside them. Both share this machine's cores, as they would not against
AWS.

The clusters are spread over ``--regions`` regions of one account; each region is metered apart by the
emulator (``--rate`` requests/s, burst ``2 x rate``, answered 429 ThrottlingException + Retry-After over it)
with ``--latency`` added to every request, and the adapter paces each account+region at the same rate
(``apiRatePerSecond``). EKS's default quota is 100 clusters per region per account (Service Quotas), so a real
fleet of 10,000 spans >= 100 account+regions at 10 requests/s each (fleet's default pace); 20 regions at
50 requests/s give the same aggregate pace (1,000 requests/s) with fewer emulated regions.

    python bench/eks_discovery.py --clusters 10000 --regions 20 --rate 50
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_api  # noqa: E402  (bench/ sibling)

TARGET_S = 60.0


def _emulator(n: int, regions: int, d: str, latency: float, rate: float, conn: Any) -> None:
    from fleet.clock import FakeClock
    from fleet.emulator import create_emulator
    from providers.eks.emulator.server import NodegroupSpec

    names = scale_api.EKS_REGIONS[:regions]
    kit: Any = create_emulator("eks", FakeClock(scale_api.START), Path(d), regions=names)
    kit.start()
    cp, pools, avail = scale_api.VERSIONS["eks"]
    t0 = time.perf_counter()
    for i in range(n):
        if i == 0:
            kit.seed("c00000", cp, pools, avail)
        else:
            kit.emulator.add_cluster(f"c{i:05d}", cp, {k: NodegroupSpec(v) for k, v in pools.items()},
                                     region=names[i % len(names)])
    seeded = time.perf_counter() - t0
    srv = scale_api.served(kit)
    srv.meter(latency, rate, int(rate * 2), scale_api.sigv4_scope)
    conn.send((kit.adapter_settings(), kit.adapter_context(), seeded))
    conn.recv()                                       # the client is done
    conn.send((len(srv.log), srv.throttled, time.process_time()))
    kit.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=10_000)
    ap.add_argument("--regions", type=int, default=20)
    ap.add_argument("--rate", type=float, default=50.0, help="requests/s per region (emulator and client pace)")
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=64, help="the adapter's apiConcurrency")
    args = ap.parse_args(argv)
    if not 1 <= args.regions <= len(scale_api.EKS_REGIONS):
        ap.error(f"--regions must be in 1..{len(scale_api.EKS_REGIONS)}")
    with tempfile.TemporaryDirectory() as tmp:
        here, there = mp.Pipe()
        proc = mp.get_context("fork").Process(target=_emulator, args=(args.clusters, args.regions, tmp,
                                                                      args.latency, args.rate, there))
        proc.start()
        settings, context, seeded = here.recv()
        print(f"emulator: {args.clusters:,} clusters in {args.regions} regions seeded in {seeded:.0f} s; "
              f"{args.latency * 1000:.0f} ms per request, {args.rate:g} requests/s per region", flush=True)
        from fleet.clock import SystemClock
        from fleet.provider import create_provider
        settings = {**settings, "readTimeoutSeconds": 60.0, "apiConcurrency": args.concurrency,
                    "apiRatePerSecond": args.rate, "apiBurst": int(args.rate * 2)}
        p = create_provider("eks", "eks", settings, clock=SystemClock(), **context)
        t0, c0 = time.perf_counter(), time.process_time()
        seen = p.discover()
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        here.send("done")
        requests, throttled, emu_cpu = here.recv()
        proc.join()
    assert len(seen) == args.clusters, len(seen)
    per_region = requests / args.regions
    print(f"one cold discovery of {args.clusters:,} clusters: {took:.1f} s wall; {requests:,} requests "
          f"({requests / args.clusters:.2f} per cluster, {throttled} answered 429 and retried); client CPU "
          f"{cpu:.1f} s ({cpu / requests * 1000:.2f} ms per request); emulator process CPU {emu_cpu:.1f} s "
          f"(seeding included); per-region pace floor {(per_region - 2 * args.rate) / args.rate:.0f} s; "
          f"latency floor {requests * args.latency / args.concurrency:.0f} s", flush=True)
    ok = took <= TARGET_S
    print(f"target (<= {TARGET_S:.0f} s): " + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
