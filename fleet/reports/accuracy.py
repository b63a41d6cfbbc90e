"""Forecast against actual: when the forecast said each cluster would be done, when the journal says it was.

``compute_accuracy`` is pure: a forecast (fleet.reports.forecast.Forecast, or its stored JSON form) and the
clusters' actual completions in, per cluster and per lane (policy / wave) the error out, with its
distribution (median, 90th percentile, largest, by absolute value). The error is ``actual - forecast``:
positive when the cluster finished later than forecast. ``observe_completions`` reads the actual completions
from the state store: a cluster is done when its membership in a run ended ``done`` (the same instant the
forecast measures in its simulated run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import iso
from fleet.execution.model import MemberStatus
from fleet.reports.forecast import lane_name


@dataclass(frozen=True)
class ClusterAccuracy:
    cluster: str
    lane: str                          # "policy / wave"
    forecast: datetime | None          # likely completion (p50 durations)
    late: datetime | None              # late completion (p90 durations), when the forecast had one
    actual: datetime | None

    @property
    def error(self) -> timedelta | None:
        if self.forecast is None or self.actual is None:
            return None
        return self.actual - self.forecast

    def to_dict(self) -> dict[str, Any]:
        e = self.error
        return {"cluster": self.cluster, "lane": self.lane, "forecast": iso(self.forecast), "late": iso(self.late),
                "actual": iso(self.actual), "errorMinutes": None if e is None else round(e.total_seconds() / 60, 1)}


@dataclass(frozen=True)
class LaneAccuracy:
    lane: str
    forecast_end: datetime | None
    actual_end: datetime | None

    @property
    def error(self) -> timedelta | None:
        if self.forecast_end is None or self.actual_end is None:
            return None
        return self.actual_end - self.forecast_end


@dataclass
class Accuracy:
    clusters: list[ClusterAccuracy] = field(default_factory=list)
    lanes: list[LaneAccuracy] = field(default_factory=list)

    def errors(self) -> list[timedelta]:
        return [c.error for c in self.clusters if c.error is not None]

    def summary(self) -> dict[str, Any]:
        """Compared clusters, and the absolute error's median, 90th percentile and maximum in minutes."""
        errs = sorted(abs(e.total_seconds()) / 60 for e in self.errors())
        missing = [c.cluster for c in self.clusters if c.error is None]
        out: dict[str, Any] = {"compared": len(errs), "notCompared": missing}
        if errs:
            out.update({"p50Minutes": round(percentile(errs, 0.5), 1), "p90Minutes": round(percentile(errs, 0.9), 1),
                        "maxMinutes": round(errs[-1], 1)})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "clusters": [c.to_dict() for c in self.clusters],
                "lanes": [{"lane": ln.lane, "forecastEnd": iso(ln.forecast_end), "actualEnd": iso(ln.actual_end),
                           "errorMinutes": None if ln.error is None else round(ln.error.total_seconds() / 60, 1)}
                          for ln in self.lanes]}


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in [0, 1])."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, -(-int(q * 1000) * len(sorted_values) // 1000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def observe_completions(store: Any, since: datetime | None = None) -> dict[str, datetime]:
    """Cluster id -> when its latest ``done`` membership ended (memberships that ended before ``since`` are
    ignored)."""
    out: dict[str, datetime] = {}
    for m in store.members():
        if m.status is MemberStatus.DONE and m.finished_at is not None:
            if since is not None and m.finished_at < since:
                continue
            if m.cluster_id not in out or m.finished_at > out[m.cluster_id]:
                out[m.cluster_id] = m.finished_at
    return out


def compute_accuracy(forecast: Any, actual: Mapping[str, datetime]) -> Accuracy:
    """Every cluster the forecast expected to upgrade (status ``completes`` or ``pending``), against ``actual``.
    ``forecast``: a Forecast (fleet.reports.forecast)."""
    acc = Accuracy()
    lanes: dict[str, tuple[list[datetime], list[datetime]]] = {}
    for cf in sorted(forecast.clusters.values(), key=lambda c: c.cluster_id):
        if cf.status not in ("completes", "pending"):
            continue
        lane = f"stage {cf.stage}" if cf.stage else lane_name(getattr(cf, "policy", None), cf.wave)
        got = actual.get(cf.cluster_id)
        acc.clusters.append(ClusterAccuracy(cf.cluster_id, lane, cf.completion, getattr(cf, "late", None), got))
        f, a = lanes.setdefault(lane, ([], []))
        if cf.completion is not None:
            f.append(cf.completion)
        if got is not None:
            a.append(got)
    acc.lanes = [LaneAccuracy(name, max(f) if f else None, max(a) if a else None)
                 for name, (f, a) in sorted(lanes.items())]
    return acc
