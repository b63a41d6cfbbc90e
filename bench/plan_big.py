"""`fleet plan` on a generated 10,000-cluster inventory, against a bare PyYAML C-loader parse of the same file.

Writes the fleet of bench/plan.py (10,000 clusters x 3 node pools, 20 policies; fixed seed) as YAML files to a
temp folder, then runs, in this one run and each in its own process (``python -m ...``, so both include the
interpreter's start-up):

  * the bare parse: ``yaml.load(text, Loader=yaml.CSafeLoader)`` of the inventory, nothing else;
  * ``fleet plan --policies DIR --inventory FILE --format json`` (output to /dev/null).

and prints the wall time of each (best of --repeat), their ratio, and the peak RSS of the ``fleet plan``
process (``os.wait4``'s ru_maxrss).  Targets (issue 17): ratio <= 1.3x and peak RSS < 300 MiB.

    python bench/plan_big.py
    python bench/plan_big.py --clusters 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan import NOW, SEED, build_clusters, build_offers, build_policies  # noqa: E402

PARSE = "import sys, yaml; yaml.load(open(sys.argv[1], encoding='utf-8').read(), Loader=yaml.CSafeLoader)"


def write_fleet(d: Path, n: int) -> tuple[Path, Path]:
    rng = random.Random(SEED)
    policies = build_policies(rng)
    clusters = build_clusters(rng, n)
    offers = build_offers()
    pol_dir = d / "policies"
    pol_dir.mkdir()
    for p in policies:
        (pol_dir / f"{p.name}.yaml").write_text(yaml.safe_dump(
            p.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False))
    inv: dict[str, Any] = {"apiVersion": "fleet.dev/v1alpha1", "kind": "Inventory", "metadata": {"name": "big"},
                           "offers": {}, "clusters": []}
    for prov, o in offers.items():
        inv["offers"][prov] = ({"controlPlane": list(o.control_plane), "nodePools": list(o.node_pools["*"])}
                               if o.node_pools else list(o.control_plane))
    for c in clusters:
        row: dict[str, Any] = {"provider": c.provider, "location": c.location, "name": c.name,
                               "labels": dict(c.labels), "controlPlane": c.control_plane,
                               "nodePools": [{"name": p.name, "version": p.version, "nodes": p.nodes}
                                             for p in c.node_pools]}
        if c.available:
            row["available"] = list(c.available)
        if c.auto_upgrade:
            row["autoUpgrade"] = c.auto_upgrade
        inv["clusters"].append(row)
    inv_file = d / "inventory.yaml"
    inv_file.write_text(yaml.dump(inv, Dumper=yaml.CSafeDumper, sort_keys=False))
    return pol_dir, inv_file


def run(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(err[-2000:], file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command (the best is reported)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        pol_dir, inv_file = write_fleet(Path(tmp), args.clusters)
        size = inv_file.stat().st_size
        parse, plan = [], []
        rss = 0.0
        for _ in range(max(1, args.repeat)):
            w, _, code = run([sys.executable, "-c", PARSE, str(inv_file)])
            assert code == 0
            parse.append(w)
            w, r, code = run([sys.executable, "-m", "fleet.cli", "plan", "--policies", str(pol_dir),
                              "--inventory", str(inv_file), "--format", "json", "--at", NOW.isoformat()])
            if code != 0:
                print(f"fleet plan exited {code}")
                return 1
            plan.append(w)
            rss = max(rss, r)
    ratio = min(plan) / min(parse)
    print(f"inventory: {args.clusters:,} clusters, {size / 2**20:.1f} MiB of YAML")
    print(f"bare CSafeLoader parse (own process): {min(parse):.2f} s best of {len(parse)}")
    print(f"fleet plan (own process):             {min(plan):.2f} s best of {len(plan)}")
    print(f"ratio: {ratio:.2f}x   peak RSS of fleet plan: {rss:.0f} MiB")
    ok = ratio <= 1.3 and rss < 300
    print("target (<= 1.3x, < 300 MiB): " + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
