"""The forecast kept from each run's start, compared with the journal's completions, and exported as metrics
(fleet.daemon.forecasts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest

from fleet.daemon.forecasts import RUNS_KEY, compute_run_records, observe_forecast_accuracy, run_key
from fleet.daemon.metrics import Metrics
from fleet.execution.model import Member, MemberStatus
from fleet.reports.forecast import ClusterForecast, Forecast

T0 = datetime(2026, 11, 23, tzinfo=UTC)
M = timedelta(minutes=1)


@dataclass
class FakeRun:
    id: str
    policy: str


@dataclass
class FakeStore:
    control: dict[str, Any] = field(default_factory=dict)
    done: list[Member] = field(default_factory=list)

    def get_control(self, key: str, default: Any = None) -> Any:
        return self.control.get(key, default)

    def members(self, run_id: str | None = None) -> list[Member]:
        return self.done


def member(cid: str, finished: datetime) -> Member:
    return Member("r1", cid, "eks", "w", 0, MemberStatus.DONE, started_at=T0, finished_at=finished)


def test_errors_of_the_stored_forecasts_become_metrics() -> None:
    fc = Forecast(start=T0, horizon_end=T0 + timedelta(days=9))
    for i, cid in enumerate(("a", "b", "c", "d")):
        fc.clusters[cid] = ClusterForecast(cid, "1.35", T0 + (60 + 10 * i) * M, "w", status="completes",
                                           policy="prod", late=T0 + 200 * M)
    rec = compute_run_records(fc, [FakeRun("r1", "prod")], {"r1": ["a", "b", "c", "d"]})
    assert rec["r1"]["clusters"]["b"] == {"lane": "prod / w", "likely": "2026-11-23T01:10:00Z",
                                           "late": "2026-11-23T03:20:00Z", "status": "completes"}
    # a done 5 min late, b 20 min early, c on time, d not done yet
    store = FakeStore({RUNS_KEY: ["r1"], run_key("r1"): rec["r1"]},
                      [member("a", T0 + 65 * M), member("b", T0 + 50 * M), member("c", T0 + 80 * M)])
    m = Metrics()
    observe_forecast_accuracy(store, m)
    text = generate_latest(m.registry).decode()
    assert "fleet_forecast_compared_clusters 3.0" in text
    assert 'fleet_forecast_error_seconds{quantile="0.5"} 300.0' in text
    assert 'fleet_forecast_error_seconds{quantile="0.9"} 1200.0' in text
    assert 'fleet_forecast_error_seconds{quantile="1"} 1200.0' in text


def test_the_report_lists_each_kept_forecast_against_its_actual_completion() -> None:
    from fleet.reports.accuracy import compute_kept_accuracy, render_accuracy_text
    rec = {"at": "2026-11-23T00:00:00Z", "policy": "prod", "clusters": {
        "a": {"lane": "prod / w", "likely": "2026-11-23T01:00:00Z", "late": "2026-11-23T02:00:00Z"},
        "b": {"lane": "prod / w", "likely": "2026-11-23T01:30:00Z", "late": None}}}
    acc = compute_kept_accuracy([rec], {"a": T0 + 75 * M, "z": T0})
    assert [(c.cluster, c.error) for c in acc.clusters] == [("a", 15 * M), ("b", None)]
    assert [(ln.lane, ln.error) for ln in acc.lanes] == [("prod / w", -15 * M)]   # lane: last done vs last forecast
    text = render_accuracy_text(acc)
    assert "Forecast at run start vs actual" in text and "+15 min" in text and "not done" in text
    assert "absolute error over 1 clusters done: median 15.0 min" in text
