"""The forecast made when a run starts, kept, and compared with what happened (issue #18).

When a tick starts runs, the daemon forecasts the fleet (fleet.reports.forecast, with step durations
calibrated from its own journal: fleet.reports.calibration) and stores, per new run, when each of the run's
clusters is likely (p50) and late (p90) to be done, in the state store's control table under
``forecast:<run id>`` (JSON; no schema migration), and lists the run under ``forecast:runs``.

After every tick that finished a step or started a run, ``observe_forecast_accuracy`` compares every stored
forecast with the clusters' actual completions (fleet.reports.accuracy) and sets

- ``fleet_forecast_error_seconds{quantile="0.5"|"0.9"|"1"}`` the absolute error (actual - forecast) of the
  forecasts made at run start, over every cluster done since: median, 90th percentile, largest;
- ``fleet_forecast_compared_clusters`` how many clusters that is.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import iso
from fleet.reports.accuracy import RUNS_KEY, run_key

log = logging.getLogger("fleet.daemon")

HORIZON = timedelta(days=365)
__all__ = ["RUNS_KEY", "compute_run_records", "observe_forecast_accuracy", "record_run_forecasts", "run_key"]


def compute_run_records(fc: Any, runs: list[Any], members: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Run id -> its stored forecast: when it was made and, per cluster, its lane and likely/late completion."""
    from fleet.reports.forecast import lane_name
    out = {}
    for r in runs:
        clusters = {}
        for cid in members.get(r.id, []):
            cf = fc.clusters.get(cid)
            if cf is not None:
                clusters[cid] = {"lane": lane_name(cf.policy, cf.wave), "likely": iso(cf.completion),
                                 "late": iso(cf.late), "status": cf.status}
        out[r.id] = {"at": iso(fc.start), "policy": r.policy, "clusters": clusters}
    return out


def record_run_forecasts(daemon: Any, at: datetime) -> None:
    """After a tick that started runs: forecast and store each new run's completions. A failure is logged and
    changes nothing else (the forecast is a report, not a control)."""
    store = daemon.store
    done = set(store.get_control(RUNS_KEY, []) or [])
    runs = [r for r in store.runs(active_only=True) if r.id not in done]
    if not runs:
        return
    try:
        fc = _forecast(daemon, at)
    except Exception as exc:  # noqa: BLE001 - a forecast must never stop the daemon
        log.warning("could not forecast the runs that started", extra={"reason": f"{exc.__class__.__name__}: {exc}"[:300]})
        return
    members = {r.id: [m.cluster_id for m in store.members(r.id)] for r in runs}
    records = compute_run_records(fc, runs, members)
    with store.write("forecast") as conn:
        for run_id, rec in records.items():
            store.set_control(conn, run_key(run_id), rec)
        store.set_control(conn, RUNS_KEY, sorted(done | set(records)))


def _forecast(daemon: Any, at: datetime) -> Any:
    from fleet.reports.calibration import compute_calibration, observe_samples
    from fleet.reports.forecast import forecast_fleet
    eng = daemon.engine
    clusters = [c for cs in getattr(eng.observer, "_last", {}).values() for c in cs]
    cal = compute_calibration(observe_samples(daemon.store, {c.id: c for c in clusters}))
    return forecast_fleet(eng.current_policies(), clusters, lambda c: eng.observer.offers_for(c, at), at,
                          horizon=HORIZON, model=cal.likely, late_model=cal.late, rollout=eng.rollout)


def observe_forecast_accuracy(store: Any, metrics: Any) -> None:
    from fleet.reports.accuracy import (
        compute_kept_errors,
        observe_completions,
        observe_kept_forecasts,
        percentile,
    )
    errs = sorted(abs(e.total_seconds()) for e in compute_kept_errors(observe_kept_forecasts(store),
                                                                       observe_completions(store)))
    metrics.forecast_compared.set(len(errs))
    for q in (0.5, 0.9, 1.0):
        metrics.forecast_error.labels(quantile=f"{q:g}").set(percentile(errs, q) if errs else 0)
