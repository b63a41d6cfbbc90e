"""How long an upgrade step takes, for the forecast: calibrated from the journal's own history, else the
documented defaults.

**Samples.** Every succeeded step in the state store is one sample: from the provider call that started it
(``started_at``) to the tick that verified it (``finished_at``) — exactly the span the forecast simulates. A
sample is filed under (provider type, component, pool size bucket); a node-pool sample is divided by the
number of batches the cloud took for it (see ``compute_batches``) so pools of other sizes can use it.

**Estimates.** Per key the median (``p50``: the *likely* forecast) and the 90th percentile (``p90``: the
*late* forecast), nearest rank. A key with fewer than ``MIN_SAMPLES`` samples falls back to the same
component of the same provider type in any pool size bucket, then to ``DEFAULT_DURATIONS`` (the documented
defaults, the same for p50 and p90).

**The step model** (``StepModel.step_duration``), which the forecast's simulated clouds call for every step:

* control plane: the estimate;
* node pool, surge: ``batches x per-batch`` where the batch is what the cloud replaces at once: EKS managed
  node groups ``maxUnavailable`` only (surge is not an EKS knob; 0 means 1: providers/eks/budget.py), every
  other cloud ``maxSurge + maxUnavailable`` (at least 1); plus the node soak after every batch
  (``nodeSoak``, AKS ``nodeSoakDurationInMinutes``);
* node pool, blue-green (GKE): ``batches x (per-batch + batchSoak) + nodePoolSoak``, the batch being
  ``batchNodeCount`` or ``batchPercentage`` of the pool (rounded up), as GKE drains the blue pool.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fleet.provider import Component, Step

# provider type -> (control-plane step, node-pool step per batch): used until the journal has samples
DEFAULT_DURATIONS: dict[str, tuple[timedelta, timedelta]] = {
    "eks": (timedelta(minutes=40), timedelta(minutes=12)),
    "gke": (timedelta(minutes=25), timedelta(minutes=8)),
    "aks": (timedelta(minutes=20), timedelta(minutes=10)),
    "oke": (timedelta(minutes=25), timedelta(minutes=12)),
    "capi": (timedelta(minutes=20), timedelta(minutes=8)),
    "kops": (timedelta(minutes=30), timedelta(minutes=10)),
}
FALLBACK_DURATION = (timedelta(minutes=20), timedelta(minutes=10))
BUCKETS = ((1, 3, "1-3"), (4, 10, "4-10"), (11, 50, "11-50"), (51, 10**9, "51+"))
MIN_SAMPLES = 1
CP = Component.CONTROL_PLANE.value
POOL = Component.NODE_POOL.value


def size_bucket(nodes: int) -> str:
    for lo, hi, name in BUCKETS:
        if lo <= nodes <= hi:
            return name
    return BUCKETS[0][2]


def compute_batch_size(provider_type: str, step: Step) -> int:
    """Nodes the cloud replaces at once in a surge upgrade."""
    if provider_type == "eks":
        return max(1, step.max_unavailable or 0)
    return max(1, (step.max_surge or 0) + (step.max_unavailable or 0))


def compute_batches(provider_type: str, step: Step, nodes: int) -> int:
    """Batches of a node-pool step (at least one)."""
    nodes = max(1, nodes)
    bg = step.blue_green
    if step.strategy == "blue-green" and bg is not None:
        size = bg.batch_node_count or (math.ceil(nodes * bg.batch_percentage) if bg.batch_percentage else nodes)
        return -(-nodes // max(1, size))
    return -(-nodes // compute_batch_size(provider_type, step))


def compute_soaks(step: Step, batches: int) -> timedelta:
    """The waiting a node-pool step adds to its batches: node soak per batch, blue-green batch and pool soaks."""
    total = timedelta(seconds=(step.node_soak_seconds or 0) * batches)
    bg = step.blue_green
    if step.strategy == "blue-green" and bg is not None:
        total += timedelta(seconds=(bg.batch_soak_seconds or 0) * batches + (bg.node_pool_soak_seconds or 0))
    return total


@dataclass(frozen=True)
class Sample:
    provider_type: str
    component: str            # CP or POOL
    bucket: str | None        # pool size bucket (None for the control plane)
    per_batch: timedelta      # the whole step for a control plane; per batch, soaks removed, for a pool


def nearest_rank(values: list[timedelta], q: float) -> timedelta:
    v = sorted(values)
    return v[max(1, math.ceil(q * len(v))) - 1]


@dataclass
class StepModel:
    """Step durations at one quantile: calibrated estimates by (type, component, bucket), else defaults."""
    estimates: dict[tuple[str, str, str | None], timedelta] = field(default_factory=dict)
    defaults: Mapping[str, tuple[timedelta, timedelta]] = field(default_factory=lambda: dict(DEFAULT_DURATIONS))

    def per_batch(self, provider_type: str, component: str, bucket: str | None) -> timedelta:
        for key in ((provider_type, component, bucket), (provider_type, component, None)):
            if key in self.estimates:
                return self.estimates[key]
        d = self.defaults.get(provider_type, FALLBACK_DURATION)
        return d[0] if component == CP else d[1]

    def step_duration(self, provider_type: str, step: Step, nodes: int) -> timedelta:
        if step.component is Component.CONTROL_PLANE:
            return self.per_batch(provider_type, CP, None)
        batches = compute_batches(provider_type, step, nodes)
        return self.per_batch(provider_type, POOL, size_bucket(nodes)) * batches + compute_soaks(step, batches)


@dataclass
class Calibration:
    likely: StepModel
    late: StepModel
    table: list[dict[str, Any]] = field(default_factory=list)   # one row per calibrated key

    def notes(self) -> list[str]:
        if not self.table:
            return ["step durations: documented defaults per provider (docs/report-format.md); the journal has "
                    "no finished steps to calibrate from yet"]
        keys = ", ".join(f"{r['provider']} {r['component']}{' ' + r['bucket'] if r['bucket'] else ''} "
                         f"p50 {r['p50Minutes']:g}/p90 {r['p90Minutes']:g} min (n={r['samples']})" for r in self.table)
        return [f"step durations calibrated from the journal ({keys}); the rest: documented defaults"]


def compute_calibration(samples: Iterable[Sample], defaults: Mapping[str, tuple[timedelta, timedelta]] | None = None,
                        min_samples: int = MIN_SAMPLES) -> Calibration:
    """p50 and p90 per (type, component, bucket) and per (type, component) over every bucket."""
    groups: dict[tuple[str, str, str | None], list[timedelta]] = {}
    for s in samples:
        groups.setdefault((s.provider_type, s.component, s.bucket), []).append(s.per_batch)
        if s.bucket is not None:
            groups.setdefault((s.provider_type, s.component, None), []).append(s.per_batch)
    base = dict(DEFAULT_DURATIONS)
    base.update(defaults or {})
    likely, late = StepModel(defaults=base), StepModel(defaults=base)
    table = []
    for key, vals in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        if len(vals) < min_samples:
            continue
        likely.estimates[key], late.estimates[key] = nearest_rank(vals, 0.5), nearest_rank(vals, 0.9)
        if key[2] is not None or key[1] == CP:
            table.append({"provider": key[0], "component": key[1], "bucket": key[2], "samples": len(vals),
                          "p50Minutes": round(likely.estimates[key].total_seconds() / 60, 1),
                          "p90Minutes": round(late.estimates[key].total_seconds() / 60, 1)})
    return Calibration(likely, late, table)


def observe_samples(store: Any, clusters: Mapping[str, Any]) -> list[Sample]:
    """One sample per succeeded step of the journal whose cluster is still known (its provider type and the
    pool's node count come from ``clusters``: cluster id -> fleet.provider.Cluster)."""
    from fleet.execution.model import StepState
    out = []
    for s in store.steps():
        if s.state is not StepState.SUCCEEDED or s.started_at is None or s.finished_at is None:
            continue
        c = clusters.get(s.cluster_id)
        if c is None:
            continue
        ptype = c.provider_type or c.provider
        took = s.finished_at - s.started_at
        if s.step.component is Component.CONTROL_PLANE:
            out.append(Sample(ptype, CP, None, took))
            continue
        pool = c.pool(s.step.pool or "")
        nodes = pool.nodes if pool is not None else 1
        batches = compute_batches(ptype, s.step, nodes)
        per = max(timedelta(0), took - compute_soaks(s.step, batches)) / batches
        out.append(Sample(ptype, POOL, size_bucket(nodes), per))
    return out
