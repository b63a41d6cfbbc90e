"""forecast_fleet: simulate the rollout forward in virtual time with the REAL engine.

Every cluster is mirrored into the simulated provider (one SimProvider per real provider name, so selectors
by name or type behave as in production), with per-provider step durations; the engine runs with the real
windows, exclusions, waves, soaks, approvals and concurrency on a throw-away in-memory store
(fleet.state.memory) and a FakeClock, jumping from one wake-up to the next. A cluster's forecast completion
is the instant the engine marked it upgraded (to within GRID: wake-ups are rounded up to a 5-minute grid).
Waves that require approval are assumed approved when reached (the forecast says so). Under a fleet rollout
(RolloutStrategy) the engine orders the stages as in production; stages that require approval are assumed
approved for every planned version, and each stage gets a lane (``stage NAME``) beside the waves, and a note
for when each stage first starts each version.

Step durations come from a step model (fleet.reports.calibration: calibrated from the journal, else the
documented DEFAULT_DURATIONS, overridden per provider type with ``durations``), which models each cloud's
batch size (EKS: maxUnavailable only), node soak, and blue-green batches and soaks. With ``late_model`` (or
``late_durations``) a second simulation gives each cluster's late (p90) completion.

Approvals: a wave that requires approval is assumed approved the moment it is reached; the forecast notes
when each one starts waiting ("waits for approval since ...", APPROVAL_ASSUMPTION).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import FakeClock
from fleet.execution.model import MemberStatus
from fleet.provider import Cluster, VersionOffers
from fleet.reports.calibration import DEFAULT_DURATIONS, FALLBACK_DURATION, StepModel

FORECAST_BUDGET_S = 300.0    # elapsed seconds one forecast may take (fleet.budget): past it, an error naming the run
MAX_TICKS = 200_000          # ... and ticks: past them the forecast stops there and says so in its notes
APPROVAL_ASSUMPTION = ("assumption: every wave and stage that requires approval is approved the moment it is "
                       "reached (each is listed as 'waits for approval since ...'); a later approval delays it "
                       "and everything after it")
GRID = timedelta(minutes=5)   # forecast resolution: wake-ups are rounded up to this grid
SAME_INSTANT_TICKS = 5        # ticks in a row at one instant before the clock moves on by GRID


@dataclass
class ClusterForecast:
    cluster_id: str
    target: str | None
    completion: datetime | None
    wave: str | None
    steps_done: int = 0
    status: str = "pending"        # completes | failed | blocked | pending (beyond the horizon) | up-to-date
    stage: str | None = None       # its stage in the fleet rollout, if there is one
    policy: str | None = None
    late: datetime | None = None   # completion under the late (p90) durations, when they were given


@dataclass
class Forecast:
    start: datetime
    horizon_end: datetime
    clusters: dict[str, ClusterForecast] = field(default_factory=dict)
    fleet_done: datetime | None = None
    late_done: datetime | None = None    # the fleet's late completion, when late durations were given
    waves: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    durations: dict[str, tuple[timedelta, timedelta]] = field(default_factory=dict)
    ticks: int = 0
    notes: list[str] = field(default_factory=list)
    approvals: list[tuple[str, str, datetime]] = field(default_factory=list)   # (policy, wave, waits since)


def forecast_fleet(policies: Sequence, clusters: Sequence[Cluster],
                   offers: Mapping[str, VersionOffers] | Callable[[Cluster], VersionOffers | None],
                   start: datetime, *, horizon: timedelta = timedelta(days=365),
                   durations: Mapping[str, tuple[timedelta, timedelta]] | None = None,
                   max_ticks: int = MAX_TICKS, state_url: str = "memory://", rollout: Any = None,
                   late_durations: Mapping[str, tuple[timedelta, timedelta]] | None = None,
                   model: StepModel | None = None, late_model: StepModel | None = None,
                   budget_s: float | None = -1.0) -> Forecast:
    """``state_url``: where the throw-away engine state lives; ``memory://`` (default, fast) or a SQL URL,
    in which ``{tmp}`` names a temporary directory (the results are the same, which a test checks).
    ``late_durations``: a second simulation under these (e.g. p90) durations gives each cluster's ``late``
    completion. ``model`` / ``late_model``: calibrated step models (fleet.reports.calibration) for the likely
    and the late forecast; without one, a model of ``durations`` over the defaults.

    Bounded: past ``budget_s`` elapsed seconds per simulation (default FORECAST_BUDGET_S; None: unbounded) it
    raises fleet.budget.BudgetExceeded naming the run (policy) or cluster it was simulating; past ``max_ticks``
    it stops and notes it (clusters not done by then stay ``pending``)."""
    if late_durations is not None or late_model is not None:
        return _forecast_with_late(policies, clusters, offers, start, horizon=horizon, durations=durations,
                                   max_ticks=max_ticks, state_url=state_url, rollout=rollout, model=model,
                                   late_model=late_model, late_durations=late_durations, budget_s=budget_s)
    from fleet.budget import Budget
    from fleet.execution.driver import drive
    from fleet.execution.model import TickResult
    from fleet.runtime import build_engine, open_state, sim_provider_class
    SimProvider = sim_provider_class()         # noqa: N806 - found through the entry point, like any provider
    SimWorld = SimProvider.World               # noqa: N806

    dur = dict(DEFAULT_DURATIONS)
    dur.update(durations or {})
    clock = FakeClock(start)
    if model is None:
        model = StepModel(defaults=dur)
    elif durations:
        model = StepModel(dict(model.estimates), {**model.defaults, **durations})
    world = SimWorld(clock, cp_duration=FALLBACK_DURATION[0], pool_duration=FALLBACK_DURATION[1], durations=dur,
                     step_model=model)
    for c in clusters:
        o = offers(c) if callable(offers) else (offers.get(c.provider) or offers.get(c.provider_type))
        if not c.available and o is not None:
            pools = tuple(replace(p, available=p.available or o.node_pools.get(p.name, ())
                                  or o.node_pools.get("*", ())) for p in c.node_pools)
            c = replace(c, available=o.control_plane, node_pools=pools)
        world.add(c)
    providers = {name: SimProvider(name, clock=clock, world=world, mirror_of=name)
                 for name in sorted({c.provider for c in clusters})}
    fc = Forecast(start=start, horizon_end=start + horizon, durations=dur, notes=[APPROVAL_ASSUMPTION])
    with tempfile.TemporaryDirectory(prefix="fleet-forecast-") as tmp:
        store = open_state(state_url.replace("{tmp}", tmp))
        # the simulation reports exact remaining times, so polls need no cap; wake-ups are rounded up to a
        # grid of GRID so that steps finishing close together are handled in one tick
        engine = build_engine(store, providers, lambda: list(policies), clock, reconcile_interval=timedelta(days=1),
                              actor="forecast", replan_every=horizon * 2, max_poll=horizon,
                              rollout=lambda: rollout)

        def on_tick(res: TickResult) -> None:
            fc.ticks += 1
            if fc.ticks == 1 and engine.last_plan is not None:
                for cp in engine.last_plan.clusters:
                    status = {"needs-upgrade": "pending"}.get(cp.status, cp.status)
                    fc.clusters[cp.id] = ClusterForecast(cp.id, cp.target, None, cp.wave, 0, status, cp.stage,
                                                         cp.policy)
                _approve_stages(store, clock.now(), fc, rollout, engine.last_plan.rollout)
            if res.runs_started:
                _approve_all(store, clock.now(), fc)

        with Budget(FORECAST_BUDGET_S if budget_s == -1.0 else budget_s, "forecast"):
            ticks = drive(engine, clock, on_tick=on_tick, stop=lambda res: not res.active_runs,
                          until=start + horizon, max_ticks=max_ticks, grid=GRID, origin=start, idle=GRID,
                          same_instant=SAME_INSTANT_TICKS)
        if ticks >= max_ticks and clock.now() < start + horizon:
            fc.notes.append(f"forecast stopped after {max_ticks} ticks (its bound) at {clock.now().isoformat()}: "
                            "clusters not done by then show as pending")
        _collect(store, fc)
        store.close()
    return fc


def _forecast_with_late(policies: Sequence, clusters: Sequence[Cluster], offers: Any, start: datetime, *,
                        late_durations: Mapping[str, tuple[timedelta, timedelta]] | None,
                        late_model: StepModel | None, **kw: Any) -> Forecast:
    """The likely forecast, with each cluster's ``late`` completion from a second simulation under the late
    durations (one simulation when they are the same as the likely ones: nothing calibrated yet)."""
    fc = forecast_fleet(policies, clusters, offers, start, **kw)
    if late_durations is None and late_model is not None and late_model == kw.get("model"):
        for cf in fc.clusters.values():
            cf.late = cf.completion
        fc.late_done = fc.fleet_done
        return fc
    kw["durations"] = {**(kw.get("durations") or {}), **(late_durations or {})}
    kw["model"] = late_model
    late = forecast_fleet(policies, clusters, offers, start, **kw)
    for cid, cf in fc.clusters.items():
        other = late.clusters.get(cid)
        cf.late = other.completion if other is not None else None
    fc.late_done = late.fleet_done
    return fc


def _approve_all(store, now: datetime, fc: Forecast) -> None:  # noqa: ANN001
    """A forecast assumes approvals are given when a wave is reached: approving every required wave when
    its run starts is the same thing, since an approval only opens that wave's gate."""
    from fleet.execution.commands import approve_wave
    for r in store.runs(active_only=True):
        for w in r.policy_snapshot["spec"].get("rollout", {}).get("waves", []):
            if w.get("approval") == "required" and w["name"] not in r.approved_waves:
                approve_wave(store, now, r.id, w["name"], "forecast")


def _approve_stages(store, now: datetime, fc: Forecast, rollout: Any, summary: Any) -> None:  # noqa: ANN001
    """Under a fleet rollout, stages that require approval are assumed approved for every planned version."""
    if rollout is None or summary is None:
        return
    from fleet.execution.stages import mark_promotion_approved
    for st in rollout.spec.stages:
        if st.approval == "required":
            for version in summary["versions"]:
                mark_promotion_approved(store, now, "forecast", rollout, st.name, version)
                fc.notes.append(f"stage {st.name}: {version} assumed approved")


def _collect_stages(store, fc: Forecast) -> None:  # noqa: ANN001
    """A lane per stage (``stage NAME``: its first start to its last completion) and, per stage, when it first
    started each version."""
    lanes: dict[str, list[datetime]] = {}
    for m in store.members():
        cf = fc.clusters.get(m.cluster_id)
        if cf is None or cf.stage is None:
            continue
        lane = lanes.setdefault(f"stage {cf.stage}", [])     # a stage spans policies: one lane
        lane += [t for t in (m.started_at, m.finished_at) if t is not None]
    first: dict[tuple[str, str], datetime] = {}
    for e in store.events(kind="step-dispatched", limit=10**9):
        cf = fc.clusters.get(e["cluster_id"])
        if cf is not None and cf.stage is not None and e["step_key"].startswith("cp@"):
            first.setdefault((cf.stage, e["step_key"][3:]), e["at"])
    for name, ts in lanes.items():
        fc.waves[name] = (min(ts) if ts else None, max(ts) if ts else None)
    for (stage, version), at in sorted(first.items(), key=lambda kv: kv[1]):
        fc.notes.append(f"stage {stage} starts {version} at {at.isoformat()}")


def compute_approval_waits(run: Any) -> list[tuple[str, datetime]]:
    """(wave, since) for each wave of ``run`` that requires approval and was reached: the run's start for its
    first wave, else the instant the previous wave was done plus that wave's soak (pure)."""
    from fleet.clock import utc
    from fleet.policy.models import UpgradePolicy
    waves = UpgradePolicy.model_validate(run.policy_snapshot).spec.rollout.waves
    out = []
    for i, w in enumerate(waves):
        if w.approval != "required":
            continue
        if i == 0:
            since = run.created_at
        else:
            done = run.wave_done_at.get(waves[i - 1].name)
            if done is None:
                continue
            since = utc(datetime.fromisoformat(str(done).replace("Z", "+00:00"))) + waves[i - 1].soak
        out.append((w.name, since))
    return out


def _collect_approvals(store, fc: Forecast) -> None:  # noqa: ANN001
    from fleet.clock import iso
    for r in store.runs():
        for wave, since in compute_approval_waits(r):
            fc.approvals.append((r.policy, wave, since))
            fc.notes.append(f"{lane_name(r.policy, wave)} waits for approval since {iso(since)} "
                            f"(assumed approved then)")


def lane_name(policy: str | None, wave: str | None) -> str:
    """A wave's lane in the forecast: one wave of one policy (waves of the same name in different policies are
    different lanes). A stage of a fleet rollout spans policies: its lane is ``stage NAME``."""
    return f"{policy or '-'} / {wave or '-'}"


def _collect(store, fc: Forecast) -> None:  # noqa: ANN001
    steps: dict[str, int] = {}
    for e in store.events(kind="step-succeeded", limit=10**9):
        steps[e["cluster_id"]] = steps.get(e["cluster_id"], 0) + 1
    waves: dict[str, list[datetime]] = {}
    for m in store.members():
        cf = fc.clusters.get(m.cluster_id)
        if cf is None:
            continue
        cf.steps_done = steps.get(m.cluster_id, 0)
        if m.status is MemberStatus.DONE:
            cf.status, cf.completion = "completes", m.finished_at
        elif m.status in (MemberStatus.FAILED, MemberStatus.BLOCKED):
            cf.status = m.status.value
        w = waves.setdefault(lane_name(cf.policy, m.wave), [])
        if m.started_at is not None:
            w.append(m.started_at)
        if m.finished_at is not None:
            w.append(m.finished_at)
    fc.waves = {name: (min(ts) if ts else None, max(ts) if ts else None) for name, ts in waves.items()}
    _collect_approvals(store, fc)
    _collect_stages(store, fc)
    pending = [c for c in fc.clusters.values() if c.status == "pending"]
    done = [c.completion for c in fc.clusters.values() if c.completion is not None]
    fc.fleet_done = max(done) if done and not pending else None
