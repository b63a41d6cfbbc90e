"""Gather what a report needs (the I/O side): policies, clusters and offers (from an Inventory or live
discovery), the plan, run memberships from the state store (read-only) and the forecast."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.errors import InputError, Problem, StateError
from fleet.planning.plan import Plan
from fleet.planning.planner import compute_plan
from fleet.policy.loader import load_offline_fleet, load_policy_set
from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, VersionOffers, type_rules
from fleet.reports.compliance import ForecastLike, Membership
from fleet.state import Store

REPORT_PLAN_BUDGET_S = 300.0

Offers = Mapping[str, VersionOffers] | Callable[[Cluster], VersionOffers | None]


@dataclass
class FleetInputs:
    policies: list[UpgradePolicy]
    clusters: list[Cluster]
    offers: Offers
    plan: Plan
    state_url: str | None = None
    notes: list[str] = field(default_factory=list)
    rollout: Any = None             # the policies folder's RolloutStrategy, if any (fleet.policy.rollout)
    unread: dict[str, str] = field(default_factory=dict)   # provider -> why it could not be read (--config)


def observe_inputs(*, config: Path | None, inventory: Path | None, policies: Path | None,
                   at: datetime) -> FleetInputs:
    """Read the fleet from ``config`` (live discovery; nothing is changed) or from ``inventory`` + ``policies``.
    Planning is bounded (REPORT_PLAN_BUDGET_S; a cluster past its own share is ``unknown`` with the reason)."""
    from fleet.budget import Budget
    with Budget(REPORT_PLAN_BUDGET_S, "planning the report", item_seconds=REPORT_PLAN_BUDGET_S / 10):
        return _observe(config=config, inventory=inventory, policies=policies, at=at)


def _observe(*, config: Path | None, inventory: Path | None, policies: Path | None, at: datetime) -> FleetInputs:
    if config is not None:
        if inventory is not None or policies is not None:
            raise InputError([Problem("--config", None, "", "give --config, or --inventory and --policies, not both")])
        return _observe_live(config, at)
    if inventory is None or policies is None:
        raise InputError([Problem("fleet", None, "", "give --config FILE, or --inventory FILE and --policies PATH")])
    from fleet.planning.offline import offline_plan
    pols, clusters, offers = load_offline_fleet(policies, inventory)
    rollout = load_policy_set(policies)[1]
    plan = offline_plan(policies, inventory, at) if rollout is not None else compute_plan(
        pols, clusters, offers, at, rules=type_rules())
    return FleetInputs(pols, clusters, offers, plan, rollout=rollout)


def _observe_live(config_file: Path, at: datetime) -> FleetInputs:
    from fleet.runtime import observe_live, resolve_state_url
    live = observe_live(config_file, at)
    notes = [f"provider {n} could not be read: {e}" for n, e in sorted(live.errors.items())]
    return FleetInputs(live.policies, live.clusters, live.offers, live.plan,
                       resolve_state_url(config_file, live.config.spec.state.url), notes, live.rollout,
                       dict(live.errors))


def _sqlite_missing(url: str) -> bool:
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///"):]
    return path not in ("", ":memory:") and not Path(path).expanduser().exists()


def observe_latest_memberships(store: Store) -> dict[str, Membership]:
    """Each cluster's row in the latest run (by creation) that contains it; a member its pre-flight gates
    block now is ``blocked-by-gate`` with the reason (docs/gates.md). Reads only."""
    from fleet.gates.status import blocked_clusters
    latest = store.latest_memberships()
    awaiting = {r.id: compute_waves_awaiting_approval(r.policy_snapshot, r.approved_waves)
                for r in store.runs(active_only=True)}
    out = {cid: Membership(m.run_id, m.status.value, m.message,
                           "approval" if m.status.value == "pending" and m.wave in awaiting.get(m.run_id, ()) else None)
           for cid, m in latest.items()}
    for cid, why in blocked_clusters(store.latest_gate_evaluations()).items():
        m = out.get(cid)
        if m is not None and m.status in ("pending", "active"):
            out[cid] = Membership(m.run_id, "blocked-by-gate", why)
    return out


def compute_waves_awaiting_approval(policy_snapshot: Mapping[str, Any], approved: Any) -> frozenset[str]:
    """The waves of a run's policy that require approval and have not been given it."""
    waves = policy_snapshot.get("spec", {}).get("rollout", {}).get("waves", [])
    return frozenset(w["name"] for w in waves if w.get("approval") == "required" and w["name"] not in approved)


def observe_memberships(state_url: str | None) -> tuple[dict[str, Membership], list[str]]:
    """Run memberships from the store at ``state_url`` (opened without migrating; a missing SQLite file
    means no runs and is not created)."""
    if state_url is None or _sqlite_missing(state_url):
        return {}, []
    from fleet.state.store import SqlStore
    try:
        store = SqlStore(state_url, migrate=False)
        try:
            return observe_latest_memberships(store), []
        finally:
            store.close()
    except StateError as exc:
        return {}, [f"run states not read from the state store: {exc}"]


def compute_forecast(inputs: FleetInputs, at: datetime, horizon: timedelta,
                     durations: Any = None) -> tuple[ForecastLike | None, list[str]]:
    """Run ``fleet.reports.forecast.forecast_fleet`` (imported lazily); None with a note when it is absent."""
    try:
        from fleet.reports.forecast import forecast_fleet
    except ModuleNotFoundError as exc:
        if exc.name != "fleet.reports.forecast":
            raise
        return None, ["forecast unavailable: fleet.reports.forecast is not installed"]
    from fleet.budget import BudgetExceeded
    cal = observe_calibration(inputs)
    try:
        fc = forecast_fleet(inputs.policies, inputs.clusters, inputs.offers, at, horizon=horizon,
                            durations=durations, rollout=inputs.rollout, model=cal.likely, late_model=cal.late)
    except BudgetExceeded as exc:        # the report goes on without it, and says why
        return None, [f"forecast not computed: {exc}"]
    fc.notes.extend(cal.notes())
    return fc, []


def observe_calibration(inputs: FleetInputs) -> Any:
    """Step durations calibrated from the state store's journal (fleet.reports.calibration), read-only; the
    documented defaults when there is no store or it cannot be read."""
    from fleet.reports.calibration import compute_calibration, observe_samples
    samples: list[Any] = []
    if inputs.state_url is not None and not _sqlite_missing(inputs.state_url):
        from fleet.state.store import SqlStore
        try:
            store = SqlStore(inputs.state_url, migrate=False)
            try:
                samples = observe_samples(store, {c.id: c for c in inputs.clusters})
            finally:
                store.close()
        except StateError:
            samples = []
    return compute_calibration(samples)


def observe_kept_accuracy(state_url: str | None) -> Any:
    """The forecasts the daemon kept at run start against the journal's completions (fleet.reports.accuracy),
    or None without a readable store."""
    if state_url is None or _sqlite_missing(state_url):
        return None
    from fleet.reports.accuracy import compute_kept_accuracy, observe_completions, observe_kept_forecasts
    from fleet.state.store import SqlStore
    try:
        store = SqlStore(state_url, migrate=False)
        try:
            return compute_kept_accuracy(observe_kept_forecasts(store), observe_completions(store))
        finally:
            store.close()
    except StateError:
        return None
