"""Report benchmark: 10,000 clusters, every format (table, json, csv, markdown, html).

The fleet and policies come from bench/plan.py's generator (fixed seed: 7 providers, 20 policies, minors
1.28-1.33, some unmanaged). The plan is computed once; a forecast-shaped object with a completion for every
cluster that needs an upgrade and a span per wave is made up deterministically (the forecast simulation
itself is measured by its own benchmark). Timed with ``time.perf_counter``, best of ``--repeat``:

- classification: ``compute_report`` (lifecycle lookup, status, risk, summary)
- each format: rendering the ComplianceReport to text

    python bench/report.py                    # 10,000 clusters, best of 3
    python bench/report.py --clusters 2000 --out /tmp/reports   # also keep the files

Targets (issue 7): under 2 s per format; the HTML file under 5 MB.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan import NOW, SEED, build_clusters, build_offers, build_policies  # noqa: E402

from fleet.planning.planner import compute_plan  # noqa: E402
from fleet.reports.compliance import compute_report  # noqa: E402
from fleet.reports.formats import FORMATS, renderer  # noqa: E402
from fleet.reports.lifecycle import load_builtin  # noqa: E402

TIME_TARGET = 2.0
HTML_TARGET = 5 * 1024 * 1024


@dataclass
class _CF:
    completion: datetime | None
    wave: str | None
    steps_done: int = 0


@dataclass
class _Forecast:
    clusters: dict[str, _CF] = field(default_factory=dict)
    fleet_done: datetime | None = None
    waves: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)


def make_forecast(plan, rng: random.Random) -> _Forecast:  # noqa: ANN001
    fc = _Forecast()
    for c in plan.clusters:
        if c.status != "needs-upgrade":
            fc.clusters[c.id] = _CF(None, c.wave)
            continue
        start = c.next_window.start if c.next_window else NOW
        done = None if rng.random() < 0.03 else start + timedelta(days=rng.randint(0, 120), hours=rng.randint(1, 8))
        fc.clusters[c.id] = _CF(done, c.wave, len(c.steps))
        if done is not None:
            s, e = fc.waves.get(c.wave or "default", (done, done))
            fc.waves[c.wave or "default"] = (min(s or done, start), max(e or done, done))
    ends = [c.completion for c in fc.clusters.values() if c.completion]
    fc.fleet_done = max(ends) if ends else None
    return fc


def best_of(n: int, fn):  # noqa: ANN001, ANN201
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clusters", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write each format here")
    a = ap.parse_args(argv)
    rng = random.Random(SEED)
    policies = build_policies(rng)
    clusters = build_clusters(rng, a.clusters)
    offers = build_offers()
    lifecycle = load_builtin()
    t_plan, plan = best_of(1, lambda: compute_plan(policies, clusters, offers, NOW))
    forecast = make_forecast(plan, random.Random(SEED + 1))
    t_cls, report = best_of(a.repeat, lambda: compute_report(plan, lifecycle, NOW, forecast=forecast))
    print(f"clusters: {len(clusters)}  at: {NOW.astimezone(UTC):%Y-%m-%dT%H:%MZ}  lifecycle as of {lifecycle.as_of}")
    print(f"plan (not a report target):      {t_plan:7.3f} s")
    print(f"classification (compute_report): {t_cls:7.3f} s   risks: {len(report.risks)}  "
          f"statuses: {', '.join(f'{k}={v}' for k, v in report.counts.items() if v)}")
    ok = True
    for fmt in FORMATS:
        t, text = best_of(a.repeat, lambda fmt=fmt: renderer(fmt)(report))
        size = len(text.encode("utf-8"))
        good = t < TIME_TARGET and (fmt != "html" or size < HTML_TARGET)
        ok &= good
        print(f"{fmt:9s} render {t:7.3f} s   size {size / 1024 / 1024:7.2f} MB   {'ok' if good else 'OVER TARGET'}")
        if a.out is not None:
            a.out.mkdir(parents=True, exist_ok=True)
            ext = {"table": "txt", "markdown": "md"}.get(fmt, fmt)
            (a.out / f"report.{ext}").write_text(text, encoding="utf-8")
    print(f"targets: < {TIME_TARGET:.0f} s per format, HTML < {HTML_TARGET // (1024 * 1024)} MB: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
