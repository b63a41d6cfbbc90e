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

from fleet.clock import iso, utc
from fleet.execution.model import MemberStatus
from fleet.reports.forecast import lane_name

RUNS_KEY = "forecast:runs"      # control-table key: the runs whose start-of-run forecast is kept


def run_key(run_id: str) -> str:
    """Control-table key of the forecast kept when ``run_id`` started."""
    return f"forecast:{run_id}"


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


def observe_kept_forecasts(store: Any) -> list[dict[str, Any]]:
    """The forecasts the daemon kept when runs started (fleet.daemon.forecasts), oldest run first."""
    return [rec for run_id in store.get_control(RUNS_KEY, []) or []
            if (rec := store.get_control(run_key(run_id))) is not None]


def compute_kept_errors(records: list[dict[str, Any]], actual: dict[str, datetime]) -> list[timedelta]:
    """actual - likely, for every stored cluster forecast whose cluster is done at or after the forecast."""
    out = []
    for rec in records:
        made = utc(datetime.fromisoformat(rec["at"].replace("Z", "+00:00")))
        for cid, c in rec["clusters"].items():
            got = actual.get(cid)
            if c.get("likely") and got is not None and got >= made:
                out.append(got - utc(datetime.fromisoformat(c["likely"].replace("Z", "+00:00"))))
    return out


def _at(s: str | None) -> datetime | None:
    return utc(datetime.fromisoformat(s.replace("Z", "+00:00"))) if s else None


def compute_kept_accuracy(records: list[dict[str, Any]], actual: Mapping[str, datetime]) -> Accuracy:
    """Every cluster of every kept forecast against its completion after the forecast was made."""
    acc = Accuracy()
    lanes: dict[str, tuple[list[datetime], list[datetime]]] = {}
    for rec in records:
        made = _at(rec["at"])
        for cid, c in sorted(rec["clusters"].items()):
            got = actual.get(cid)
            got = got if got is not None and made is not None and got >= made else None
            likely = _at(c.get("likely"))
            acc.clusters.append(ClusterAccuracy(cid, c["lane"], likely, _at(c.get("late")), got))
            f, a = lanes.setdefault(c["lane"], ([], []))
            f += [likely] if likely else []
            a += [got] if got else []
    acc.lanes = [LaneAccuracy(n, max(f) if f else None, max(a) if a else None) for n, (f, a) in sorted(lanes.items())]
    return acc


def render_accuracy_text(acc: Accuracy) -> str:
    """Plain text: per cluster forecast (likely, late), actual and error; then the error distribution."""
    if not acc.clusters:
        return ""
    lines = ["", "Forecast at run start vs actual", f"{'cluster':<44} {'lane':<28} {'likely':<21} {'late':<21} "
             f"{'actual':<21} error"]
    for c in acc.clusters:
        e = c.error
        lines.append(f"{c.cluster:<44} {c.lane:<28} {iso(c.forecast) or '-':<21} {iso(c.late) or '-':<21} "
                     f"{iso(c.actual) or 'not done':<21} {'-' if e is None else f'{e.total_seconds() / 60:+.0f} min'}")
    s = acc.summary()
    lines.append(f"absolute error over {s['compared']} clusters done: median {s.get('p50Minutes', '-')} min, "
                 f"p90 {s.get('p90Minutes', '-')} min, max {s.get('maxMinutes', '-')} min")
    return "\n".join(lines) + "\n"
