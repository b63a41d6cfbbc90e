"""Prometheus metrics of one daemon (its own registry, so several daemons can live in one process in tests).

Compliance series (``observe_compliance``, called after each tick with the last plan, the lifecycle data and
the tick's instant) come from the same classification as ``fleet report`` (fleet.reports.compliance):

- ``fleet_cluster_compliance_info{cluster,provider,version,minor,status}`` 1 per cluster
- ``fleet_cluster_support_days{cluster,provider,support="standard"|"extended"}`` days until the control-plane
  minor leaves that support (negative once past; no series when the lifecycle data does not know the minor)
- ``fleet_clusters_by_compliance{status}`` clusters per compliance status (every status, zeros included)
- ``fleet_clusters_by_upgrade_state{state}`` clusters per upgrade state (blocked, waiting-approval, ...; every
  state, zeros included): independent of the compliance status
- ``fleet_clusters_support_unknown`` clusters whose minor is not in the lifecycle data
- ``fleet_lifecycle_as_of_timestamp_seconds`` the lifecycle dataset's as-of date
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from fleet.planning.plan import Plan

if TYPE_CHECKING:
    from fleet.reports.compliance import ClusterCompliance, Membership
    from fleet.reports.lifecycle import Lifecycle


class ApiCallsCollector:
    """Per-scope provider API figures from the provider kit (fleet.ratelimit.STATS): calls, throttles and
    latency per ``provider`` and ``scope`` (account/region, subscription, project, tenancy, ...)."""

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        from fleet import ratelimit
        calls = CounterMetricFamily("fleet_provider_api_calls", "Provider API calls per cloud scope",
                                    labels=["provider", "scope"])
        throttles = CounterMetricFamily("fleet_provider_api_throttles", "Provider API calls throttled "
                                        "(429 / Retry-After) per cloud scope", labels=["provider", "scope"])
        latency = HistogramMetricFamily("fleet_provider_api_call_seconds", "Provider API call latency per scope",
                                        labels=["provider", "scope"])
        for (provider, scope), st in sorted(ratelimit.snapshot().items()):
            calls.add_metric([provider, scope], st.calls)
            throttles.add_metric([provider, scope], st.throttles)
            buckets = [(str(b), n) for b, n in zip(ratelimit.LATENCY_BUCKETS, st.latency, strict=True)]
            latency.add_metric([provider, scope], buckets + [("+Inf", st.calls)], st.seconds)
        yield calls
        yield throttles
        yield latency


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.reconciles = Counter("fleet_reconcile_total", "Reconcile ticks run", registry=r)
        self.reconcile_errors = Counter("fleet_reconcile_errors_total", "Reconcile ticks that raised", registry=r)
        self.reconcile_abandoned = Counter("fleet_reconcile_abandoned_total",
                                           "Reconcile ticks abandoned past their budget or at shutdown", registry=r)
        self.items_over_budget = Counter("fleet_reconcile_items_over_budget_total",
                                         "Runs abandoned for one tick past their own budget (the rest of the "
                                         "tick went on)", registry=r)
        self.last_reconcile = Gauge("fleet_last_reconcile_timestamp_seconds",
                                    "Unix time of the last reconcile that completed", registry=r)
        self.ready = Gauge("fleet_ready", "1 when /readyz answers 200 (as of its last answer)", registry=r)
        self.policy_set_valid = Gauge("fleet_policy_set_valid",
                                      "0 while the policy files are invalid (the last valid set is in use)", registry=r)
        self.reconcile_seconds = Histogram("fleet_reconcile_duration_seconds", "Wall time of a reconcile tick",
                                           registry=r, buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30))
        self.dispatched = Counter("fleet_steps_dispatched_total", "Upgrade steps dispatched to providers", registry=r)
        self.finished = Counter("fleet_steps_succeeded_total", "Upgrade steps verified", registry=r)
        self.active_runs = Gauge("fleet_runs_active", "Runs running or halted", registry=r)
        self.paused = Gauge("fleet_paused", "1 when new steps are paused", registry=r)
        self.leader = Gauge("fleet_leader", "1 when this replica is the acting leader", registry=r)
        self.clusters = Gauge("fleet_clusters", "Clusters by plan status", ["status"], registry=r)
        # the forecasts made at run start against what happened (fleet.daemon.forecasts)
        self.forecast_error = Gauge("fleet_forecast_error_seconds",
                                    "Absolute error of the forecasts made at run start over the clusters done "
                                    "since (quantile 0.5, 0.9, 1 = largest)", ["quantile"], registry=r)
        self.forecast_compared = Gauge("fleet_forecast_compared_clusters",
                                       "Clusters done since a run's forecast, compared with it", registry=r)
        self.cluster_info = Gauge("fleet_cluster_info", "One series per cluster with its versions and status",
                                  ["cluster", "provider", "version", "target", "status", "policy"], registry=r)
        self.cluster_steps = Gauge("fleet_cluster_steps_remaining", "Upgrade steps left per cluster",
                                   ["cluster"], registry=r)
        self.compliance_info = Gauge("fleet_cluster_compliance_info",
                                     "One series per cluster: control-plane version and compliance status",
                                     ["cluster", "provider", "version", "minor", "status"], registry=r)
        self.support_days = Gauge("fleet_cluster_support_days",
                                  "Days until the cluster's control-plane minor leaves standard/extended support "
                                  "(negative once past; absent when unknown)",
                                  ["cluster", "provider", "support"], registry=r)
        self.by_compliance = Gauge("fleet_clusters_by_compliance", "Clusters by compliance status", ["status"],
                                   registry=r)
        self.by_upgrade_state = Gauge("fleet_clusters_by_upgrade_state",
                                      "Clusters by upgrade state (failed, upgrading, blocked, waiting-*, pending, none)",
                                      ["state"], registry=r)
        self.support_unknown = Gauge("fleet_clusters_support_unknown",
                                     "Clusters whose minor is not in the lifecycle data", registry=r)
        r.register(ApiCallsCollector())
        self._lifecycle: Lifecycle | None = None
        self.lifecycle_as_of = Gauge("fleet_lifecycle_as_of_timestamp_seconds",
                                     "As-of date of the lifecycle dataset in use (Unix time)", registry=r)

    def observe_plan(self, plan: Plan) -> None:
        counts: dict[str, int] = {}
        self.cluster_info.clear()
        self.cluster_steps.clear()
        for c in plan.clusters:
            counts[c.status] = counts.get(c.status, 0) + 1
            self.cluster_info.labels(c.id, c.provider, c.control_plane, c.target or "", c.status, c.policy or "").set(1)
            self.cluster_steps.labels(c.id).set(len(c.steps))
        self.clusters.clear()
        for status, n in counts.items():
            self.clusters.labels(status).set(n)

    def active_lifecycle(self) -> Lifecycle:
        """The active lifecycle dataset (settings from the environment), read once per Metrics."""
        if self._lifecycle is None:
            import logging
            import os

            from fleet.errors import InputError
            from fleet.reports.lifecycle import LifecycleSettings, load_active, load_builtin
            try:
                self._lifecycle = load_active(LifecycleSettings.from_env(os.environ))
            except InputError as exc:  # a hand-edited file broke: keep exporting with the shipped data
                logging.getLogger("fleet.daemon").warning(
                    "lifecycle data unreadable; using the shipped dataset", extra={"reason": str(exc)})
                self._lifecycle = load_builtin()
        return self._lifecycle

    def observe_compliance(self, plan: Plan | None, lifecycle: Lifecycle, at: datetime,
                           memberships: Mapping[str, Membership] | None = None, *,
                           store: Any = None) -> list[ClusterCompliance]:
        """Classify every planned cluster at ``at`` (as ``fleet report`` does), export the results and return
        them. Upgrade states (upgrading, failed, waiting-approval ...) come from ``memberships``, or are read from ``store`` when given."""
        from fleet.reports.compliance import STATUSES, UPGRADE_STATES, compute_cluster
        self.lifecycle_as_of.set(datetime.combine(lifecycle.as_of, time(0), UTC).timestamp())
        if plan is None:
            return []
        if memberships is None and store is not None:
            from fleet.errors import StateError
            from fleet.reports.inputs import observe_latest_memberships
            try:
                memberships = observe_latest_memberships(store)
            except StateError:
                memberships = {}  # run states unknown this tick; versions and support still export
        memberships = memberships or {}
        counts = dict.fromkeys(STATUSES, 0)
        states = dict.fromkeys(UPGRADE_STATES, 0)
        unknown = 0
        self.compliance_info.clear()
        self.support_days.clear()
        out = []
        for cp in plan.clusters:
            c = compute_cluster(cp, lifecycle, at, memberships.get(cp.id))
            out.append(c)
            counts[c.status] += 1
            states[c.upgrade_state] += 1
            self.compliance_info.labels(c.id, c.provider, c.control_plane, c.support.minor or "", c.status).set(1)
            if not c.support.known:
                unknown += 1
            if c.days_to_standard is not None:
                self.support_days.labels(c.id, c.provider, "standard").set(c.days_to_standard)
            if c.days_to_extended is not None:
                self.support_days.labels(c.id, c.provider, "extended").set(c.days_to_extended)
        for status, n in counts.items():
            self.by_compliance.labels(status).set(n)
        for state, n in states.items():
            self.by_upgrade_state.labels(state).set(n)
        self.support_unknown.set(unknown)
        return out

    def render(self) -> bytes:
        return generate_latest(self.registry)
