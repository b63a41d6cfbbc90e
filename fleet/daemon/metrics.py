"""Prometheus metrics of one daemon (its own registry, so several daemons can live in one process in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from fleet.planning.plan import Plan


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.reconciles = Counter("fleet_reconcile_total", "Reconcile ticks run", registry=r)
        self.reconcile_errors = Counter("fleet_reconcile_errors_total", "Reconcile ticks that raised", registry=r)
        self.reconcile_seconds = Histogram("fleet_reconcile_duration_seconds", "Wall time of a reconcile tick",
                                           registry=r, buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30))
        self.dispatched = Counter("fleet_steps_dispatched_total", "Upgrade steps dispatched to providers", registry=r)
        self.finished = Counter("fleet_steps_succeeded_total", "Upgrade steps verified", registry=r)
        self.active_runs = Gauge("fleet_runs_active", "Runs running or halted", registry=r)
        self.paused = Gauge("fleet_paused", "1 when new steps are paused", registry=r)
        self.leader = Gauge("fleet_leader", "1 when this replica is the acting leader", registry=r)
        self.clusters = Gauge("fleet_clusters", "Clusters by plan status", ["status"], registry=r)
        self.cluster_info = Gauge("fleet_cluster_info", "One series per cluster with its versions and status",
                                  ["cluster", "provider", "version", "target", "status", "policy"], registry=r)
        self.cluster_steps = Gauge("fleet_cluster_steps_remaining", "Upgrade steps left per cluster",
                                   ["cluster"], registry=r)

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

    def render(self) -> bytes:
        return generate_latest(self.registry)
