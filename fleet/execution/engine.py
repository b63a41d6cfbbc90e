"""The engine: turns plans into upgrades, one journaled step at a time. The only caller of provider.start.

Each ``reconcile()`` observes, computes, applies:
  1. observe the fleet (discover, offers) and plan it under the current policies (for status and new runs);
  2. start a run for each policy with clusters to upgrade that are in no active run (the run snapshots the
     policy and its clusters; later policy edits never change it). A policy has at most one active run:
     clusters that become eligible while it runs (new clusters, clusters whose offers failed for a while)
     wait for it to finish and join the next run, so budgets (maxConcurrentClusters, maxFailures, waves)
     are never multiplied;
  3. for every active run: settle open steps (re-dispatch intents through the idempotent start, poll running
     operations, verify finished ones against a fresh observation: fleet.execution.step_machine), then
     dispatch next steps where the window, wave, soak, approval, concurrency, pause and halt rules all allow
     it (fleet.execution.gates).

Every transition is committed (fleet.execution.journal) before the next action: intent → provider.start →
operation id → poll → verify → result. After a crash, an ``intent`` step is settled by calling start again
(idempotent), and only when a step may start now, so nothing is ever issued outside a window.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from fleet import budget
from fleet.clock import Clock
from fleet.errors import InputError, PermanentProviderError, TemporaryProviderError
from fleet.execution import gates, gating, journal, stages, storable
from fleet.execution import step_machine as sm
from fleet.execution.holds import Holds, read_holds
from fleet.execution.model import Member, MemberStatus, Run, RunStatus, StepRecord, StepState, TickResult
from fleet.execution.observe import Observation, Observer
from fleet.planning.plan import ClusterPlan, Plan, step_for_provider
from fleet.planning.planner import Blocked, _Memo, compile_policies, compute_cluster_plan, compute_plan
from fleet.planning.rollout import HistoryStep, annotate_plan
from fleet.planning.windows import Schedule
from fleet.policy.models import UpgradePolicy
from fleet.policy.rollout import RolloutStrategy
from fleet.provider import Cluster, Provider, Step, provider_rules
from fleet.state.base import Store
from fleet.state.errors import UnstorableValueError

__all__ = ["Engine", "TickResult"]

log = logging.getLogger("fleet.engine")

FINISHED_PLAN = {"up-to-date": MemberStatus.DONE, "ahead": MemberStatus.DONE, "blocked": MemberStatus.BLOCKED}


@dataclass
class _RunCache:
    """What the engine keeps between ticks for one active run (dropped when the run ends)."""
    policy: UpgradePolicy                   # the run's snapshot, validated once
    compiled: list[Any]
    # parsed offers and paths, shared by the run's clusters and kept between ticks (windows are not)
    memo: _Memo = field(default_factory=_Memo)
    # cluster id -> (the Cluster and offers it was planned from, its plan): reused while both are the same objects
    plans: dict[str, tuple[Cluster, Any, ClusterPlan]] = field(default_factory=dict)


@dataclass
class _RunCtx:
    """One active run during one tick: its record and members as this tick changed them."""
    run: Run
    cache: _RunCache
    members: dict[str, Member]                                             # by cluster id, in the run's order
    checkers: Mapping[str, Callable[..., list[str]]]                      # provider name -> check_step
    open_steps: dict[str, StepRecord] = field(default_factory=dict)       # cluster id -> open step

    @property
    def schedule(self) -> Any:
        return self.cache.compiled[0].schedule


def compute_new_runs(planned: Sequence[ClusterPlan], latest: Mapping[str, Member],
                     in_runs: set[str], busy: Set[str] = frozenset()) -> dict[str, list[ClusterPlan]]:
    """Policy name -> the clusters to upgrade that are in no active run and did not fail in their last run.
    A policy in ``busy`` (it has an active run) starts none: its new clusters wait for that run to finish."""
    by_policy: dict[str, list[ClusterPlan]] = {}
    for cp in planned:
        if cp.status != "needs-upgrade" or cp.policy is None or cp.id in in_runs or cp.policy in busy:
            continue
        last = latest.get(cp.id)
        if last is not None and last.status is MemberStatus.FAILED:
            continue  # failed clusters wait for `fleet retry`
        by_policy.setdefault(cp.policy, []).append(cp)
    return by_policy


class Engine:
    def __init__(self, store: Store, providers: Mapping[str, Provider],
                 policies: Callable[[], Sequence[UpgradePolicy]], clock: Clock, *,
                 reconcile_interval: timedelta = timedelta(seconds=60), actor: str = "engine",
                 epoch: int = 0, owns: Callable[[str], bool] | None = None, shard: int = 0,
                 replan_every: timedelta = timedelta(0), max_poll: timedelta = sm.MAX_POLL,
                 rollout: Callable[[], RolloutStrategy | None] | None = None,
                 discovery_interval: timedelta = timedelta(0)):
        self.store = store
        self.providers = dict(providers)
        self._policies = policies
        self.clock = clock
        self.interval = reconcile_interval
        self.timing = sm.PollTiming.for_interval(reconcile_interval, max_poll)
        self.actor = actor
        self.epoch = epoch
        self.owns = owns or (lambda cluster_id: True)
        self.shard = shard
        self.replan_every = replan_every   # forecasts plan the whole fleet (and start runs) at most this often
        self._planned_at: datetime | None = None
        # a run that asked to be woken later is skipped until then, unless another writer touched the store
        self._quiet_until: dict[str, datetime] = {}
        self._events_seen: int | None = None
        self.observer = Observer(self.providers, discovery_interval=discovery_interval)  # docs/scale.md
        self.storable = storable.StorableFilter()   # clusters whose rows the store cannot hold: blocked
        self.last_plan: Plan | None = None
        self._policy_cache: list[UpgradePolicy] = []
        self.policy_problem: str | None = None   # why the policy files were last refused (None: valid)
        self._held_clusters: set[str] = set()    # clusters on hold this tick (fleet.execution.holds)
        self._holds: Holds | None = None
        self.over_budget: list[str] = []    # runs abandoned in the last tick past their own budget (fleet.budget.item)
        # a run abandoned past its own budget resumes next tick with the member it stopped at (then the others
        # in turn), so one slow cluster does not stop the same members behind it every tick
        self._resume_at: dict[str, str] = {}   # run id -> cluster id
        self._doing: str | None = None          # the member whose step is being settled or dispatched
        self._run_caches: dict[str, _RunCache] = {}   # per active run: its compiled snapshot, memo and plans
        # the fleet rollout (RolloutStrategy): read with the policies; its gate is recomputed every tick from
        # the journal's history (re-read only when the store changed)
        self._rollout_fn = rollout
        self.rollout: RolloutStrategy | None = None
        self._history: tuple[int, list[HistoryStep]] | None = None
        self.stage_gate: stages.StageGate | None = None
        # safety gates (fleet.execution.gating): pre-flight before each step, post-step after each
        self.gatekeeper = gating.GateKeeper(store, self.providers, actor, min(reconcile_interval, gating.DEFAULT_INTERVAL))

    # ---- observe --------------------------------------------------------------------------------------
    def current_policies(self) -> list[UpgradePolicy]:
        try:
            self._policy_cache = list(self._policies())
            self.policy_problem = None
            if self._rollout_fn is not None:
                self.rollout = self._rollout_fn()
        except InputError as exc:
            if str(exc) != self.policy_problem:   # logged once per change, not every tick (readiness tells)
                log.error("policies invalid; keeping the last valid set", extra={"reason": str(exc)})
            self.policy_problem = str(exc)
        return self._policy_cache

    def _observe_stages(self, obs: Observation, now: datetime) -> stages.StageGate | None:
        """The rollout's gate for this tick (None without a RolloutStrategy): every discovered cluster (all
        shards: stages span the fleet), the journal's history, approvals, and the clusters upgrading now."""
        if self.rollout is None:
            return None
        last = self.store.last_event_id()
        if self._history is None or self._history[0] != last:
            self._history = (last, stages.observe_history(self.store))
        active = {m.cluster_id for r in self.store.runs(active_only=True) for m in self.store.members(r.id)
                  if m.status is MemberStatus.ACTIVE}
        return stages.compute_stage_gate(self.rollout, list(obs.clusters.values()), self._history[1],
                                         stages.observe_approvals(self.store), active, now)

    def _checkers(self) -> dict[str, Callable[..., list[str]]]:
        return {n: p.check_step for n, p in self.providers.items() if hasattr(p, "check_step")}

    def compute_fleet_plan(self, obs: Observation, policies: Sequence[UpgradePolicy]) -> Plan:
        clusters = [c for c in obs.clusters.values() if self.owns(c.id)]
        plan = compute_plan(policies, clusters, lambda c: self.observer.offers_for(c, obs.at), obs.at,
                            self._checkers(), rules=provider_rules(self.providers))
        unknown = self.observer.offers_unknown
        if self.stage_gate is not None:
            annotate_plan(plan, self.stage_gate.qualifier)
        if unknown:
            # offers that failed for now change nothing: the cluster keeps its last plan (or is "unknown")
            last = self.last_plan.by_id() if self.last_plan is not None else {}
            plan.clusters = [cp if cp.id not in unknown else last.get(cp.id) or replace(
                cp, status="unknown", steps=[], reasons=[f"offers unknown this tick: {unknown[cp.id]}"])
                for cp in plan.clusters]
        return self.storable.compute_storable_plan(plan)

    def _observe_run(self, run: Run) -> _RunCtx:
        cache = self._run_caches.get(run.id)
        if cache is None:
            policy = UpgradePolicy.model_validate(run.policy_snapshot)
            cache = self._run_caches[run.id] = _RunCache(policy, compile_policies([policy]))
        members = {m.cluster_id: m for m in self.store.members(run.id)}
        ctx = _RunCtx(run, cache, members, self._checkers())
        for s in self.store.steps(run_id=run.id, open_only=True):
            ctx.open_steps[s.cluster_id] = s
        return ctx

    # ---- the tick -------------------------------------------------------------------------------------
    def reconcile(self) -> TickResult:
        now = self.clock.now()
        self.over_budget = []
        self.gatekeeper.new_tick()
        obs = self.observer.observe_fleet(now)
        result = TickResult(at=now, next_wake=now + self.interval)
        if self._planned_at is None or now - self._planned_at >= self.replan_every or self.last_plan is None:
            policies = self.current_policies()
            self.stage_gate = self._observe_stages(obs, now)
            plan = self.compute_fleet_plan(obs, policies)
            self.last_plan = plan
            self._planned_at = now
            result.runs_started = self._start_runs(plan, policies, now)
            gating.mark_plan(plan, self.gatekeeper.blocked)
        else:
            self.stage_gate = self._observe_stages(obs, now)
        paused = bool(self.store.get_control("paused", False))
        if self.store.last_event_id() != self._events_seen or self._holds is None:
            self._quiet_until.clear()      # someone else wrote (pause, approve, retry, another engine)
            self._holds = read_holds(self.store)    # holds change only with an event (held / released)
        held = self._holds
        self._held_clusters = set(held.clusters)
        for run in self.store.runs(active_only=True):
            if run.shard != self.shard:
                continue
            result.active_runs += 1
            quiet = self._quiet_until.get(run.id)
            if quiet is not None and now < quiet:
                result.next_wake = min(result.next_wake, quiet)   # nothing of this run is due before then
                continue
            what = f"run {run.id} (policy {run.policy})"
            budget.check("reconciling", what)   # a safe point: between runs
            sub = TickResult(at=now, next_wake=now + self.interval)
            self._doing = None
            with budget.item(what) as item:     # past its own budget, this run alone waits for the next tick
                try:
                    self._reconcile_run(run, obs, now, paused or run.id in held.runs, sub)
                finally:
                    self.gatekeeper.flush()     # the blocked clusters' pre-flight evaluations, in one transaction
            if item.exceeded is not None:
                self.over_budget.append(str(item.exceeded))
                log.error("run abandoned for this tick at a safe point", extra={"reason": str(item.exceeded)})
                if self._doing is not None:
                    self._resume_at[run.id] = self._doing
            else:
                self._resume_at.pop(run.id, None)
            result.dispatched += sub.dispatched
            result.polled += sub.polled
            result.finished_steps += sub.finished_steps
            result.next_wake = min(result.next_wake, sub.next_wake)
            self._quiet_until[run.id] = sub.next_wake
        self._events_seen = self.store.last_event_id()
        return result

    # ---- runs -----------------------------------------------------------------------------------------
    def _observe_in_runs(self, latest: Mapping[str, Member]) -> tuple[set[str], set[str]]:
        """Clusters in an active run, and the policies of this shard with an active run. Usually a cluster's
        active run is its latest run; only when a run that finished is newer than an active one (an old run
        retried) must the active runs' members be read."""
        runs = self.store.runs()
        active = {r.id: (r.created_at, r.id) for r in runs if r.status.active}
        busy = {r.policy for r in runs if r.status.active and r.shard == self.shard}
        in_runs = {cid for cid, m in latest.items() if m.run_id in active}
        if active and any(not r.status.active and (r.created_at, r.id) > min(active.values()) for r in runs):
            in_runs.update(m.cluster_id for run_id in active for m in self.store.members(run_id))
        return in_runs, busy

    def _start_runs(self, plan: Plan, policies: Sequence[UpgradePolicy], now: datetime) -> int:
        """One active run per policy (and shard): clusters that become eligible while their policy has an
        active run (a new cluster, or one whose offers failed for a while) wait for that run to finish, so
        the run's budgets (maxConcurrentClusters, maxFailures, waves) hold for the whole policy."""
        pol = {p.name: p for p in policies}
        latest = self.store.latest_memberships()
        in_runs, busy = self._observe_in_runs(latest)
        by_policy = compute_new_runs(plan.clusters, latest, in_runs, busy)
        for name, cps in sorted(by_policy.items()):
            run_id = f"{now.strftime('%Y%m%d-%H%M%S')}-{name[:40]}-{secrets.token_hex(3)}"
            snapshot = pol[name].model_dump(mode="json", by_alias=True)
            journal.mark_run_started(self.store, now, self.actor, run_id, name, snapshot, cps, self.shard)
        return len(by_policy)

    def _reconcile_run(self, run: Run, obs: Observation, now: datetime, paused: bool, result: TickResult) -> None:
        """Settle the run's due steps, then start what the gates allow: its members between steps first (they
        hold their slots), then pending members of the current wave while slots last."""
        ctx = self._observe_run(run)
        if self._settle_open_steps(ctx, obs, now, paused, result):
            ctx = self._observe_run(self.store.run(run.id) or ctx.run)
        ready = self._plan_between_steps(ctx, obs, now)
        gate = self._apply_wave_gate(ctx, now)
        if gate.wake is not None:
            result.next_wake = min(result.next_wake, gate.wake)
        if not gates.run_may_dispatch(paused, ctx.run.status, gate):
            return
        for m, cp in ready:
            if self._stage_allows(m, cp, False, result) and self._window_allows(ctx, cp, now, result):
                self._dispatch(ctx, m, cp, obs, now, result)
        if gate.may_start and gate.current is not None:
            self._start_pending(ctx, gate.current, obs, now, result)
            self._apply_wave_gate(ctx, now)    # members of a wave that finished by themselves may complete it
        for at in self.store.next_actions(run.id):
            result.next_wake = min(result.next_wake, max(now, at))

    def _plan_between_steps(self, ctx: _RunCtx, obs: Observation, now: datetime) -> list[tuple[Member, ClusterPlan]]:
        """Active members with no open step: finished now (marked so), or their plan for the next step."""
        ready = []
        for m in self._in_turn(ctx):
            if m.status is MemberStatus.ACTIVE and m.cluster_id not in ctx.open_steps:
                cp = self._plan_member(ctx, m, obs, now)
                if cp is not None:
                    ready.append((m, cp))
        return ready

    def _start_pending(self, ctx: _RunCtx, wave_index: int, obs: Observation, now: datetime,
                       result: TickResult) -> None:
        """Pending members of the current wave, while slots last (planned only when they could start)."""
        slots = gates.free_slots(ctx.cache.policy.spec.rollout.max_concurrent_clusters, ctx.members.values())
        for m in gates.startable(ctx.members.values(), wave_index):
            if slots <= 0:
                break
            if not ctx.cache.compiled[0].cluster_zones:     # one zone for all: check it once
                window = gates.compute_window(ctx.schedule, now, False)
                if not window.open:                 # closed even for patch steps: nothing can start
                    if window.wake is not None:
                        result.next_wake = min(result.next_wake, window.wake)
                    break
            cp = self._plan_member(ctx, m, obs, now)
            if cp is not None and self._stage_allows(m, cp, True, result) \
                    and self._window_allows(ctx, cp, now, result):
                if self._dispatch(ctx, m, cp, obs, now, result):
                    if self.stage_gate is not None:
                        self.stage_gate.took_slot(m.cluster_id)
                    slots -= 1

    def _apply_wave_gate(self, ctx: _RunCtx, now: datetime) -> gates.WaveGate:
        waves = ctx.cache.policy.spec.rollout.waves
        gate = gates.compute_wave_gate(waves, ctx.members.values(), ctx.run.wave_done_at, ctx.run.approved_waves, now)
        if gate.changed:
            ctx.run = journal.mark_waves_done(self.store, now, self.actor, ctx.run, gate.wave_done_at,
                                              gate.newly_done, gate.finished)
            if gate.finished is not None:
                self._run_caches.pop(ctx.run.id, None)
        return gate

    def _plan_member(self, ctx: _RunCtx, m: Member, obs: Observation, now: datetime) -> ClusterPlan | None:
        """Re-plan one member under the run's snapshot: None when it finished (done/blocked/gone) or is unseen."""
        cid = m.cluster_id
        if not obs.fresh(cid):
            if cid not in obs.clusters and not obs.stale_providers:
                self._finish_member(ctx, m, now, MemberStatus.FAILED, "cluster is no longer discovered")
            return None
        cluster = obs.clusters[cid]
        offers = self.observer.offers_for(cluster, now)
        if offers is None and cid in self.observer.offers_unknown:
            return None          # offers unknown for now (a transient error): plan it on a later tick
        plans = ctx.cache.plans
        hit = plans.get(cid)
        if hit is not None and hit[0] is cluster and hit[1] is offers:
            cp = hit[2]      # same observation, same offers: the same steps (only next_window would move)
        else:
            cp = compute_cluster_plan(cluster, ctx.cache.compiled, offers, now, ctx.checkers.get(cluster.provider),
                                      forced=True, memo=ctx.cache.memo.at(now),
                                      rules=provider_rules(self.providers))
            plans[cid] = (cluster, offers, cp)
        finished = FINISHED_PLAN.get(cp.status)
        if finished is MemberStatus.DONE:
            self._finish_member(ctx, m, now, finished, f"at {cluster.control_plane}")
            return None
        if finished is MemberStatus.BLOCKED:
            self._finish_member(ctx, m, now, finished, "; ".join(cp.reasons))
            return None
        return cp

    def _stage_allows(self, m: Member, cp: ClusterPlan, starting: bool, result: TickResult) -> bool:
        """The fleet rollout's word on the member's next step (fleet.execution.stages): its version has
        qualified upstream, is approved where the stage requires it, within the stage's failure budget and,
        for a member taking a new slot, its maxConcurrentClusters. Always yes without a RolloutStrategy."""
        if self.stage_gate is None:
            return True
        verdict = self.stage_gate.check(m.cluster_id, cp.steps[0].to, starting)
        if verdict.wake is not None:
            result.next_wake = min(result.next_wake, verdict.wake)    # wake when the soak ends
        return verdict.may_start

    def _schedule(self, ctx: _RunCtx, zone: str | None) -> Schedule:
        """The run's schedule in a member's zone (its own with ``timezone: cluster``)."""
        return ctx.cache.compiled[0].schedule_in(zone)

    def _window_allows(self, ctx: _RunCtx, cp: ClusterPlan, now: datetime, result: TickResult) -> bool:
        window = gates.compute_window(self._schedule(ctx, cp.timezone), now, cp.steps[0].minor)
        if window.wake is not None:
            result.next_wake = min(result.next_wake, window.wake)   # wake exactly at the opening
        return window.open

    def _finish_member(self, ctx: _RunCtx, m: Member, now: datetime, status: MemberStatus, message: str) -> None:
        ctx.members[m.cluster_id] = journal.mark_member_finished(self.store, now, self.actor, m, status, message)

    # ---- steps ----------------------------------------------------------------------------------------
    def _dispatch(self, ctx: _RunCtx, m: Member, cp: ClusterPlan, obs: Observation, now: datetime,
                  result: TickResult) -> bool:
        """Start the member's next step if it may start now and its pre-flight gates pass; True if started."""
        self._doing = m.cluster_id
        budget.check("dispatching the next step of", m.cluster_id)     # a safe point: between steps
        if m.cluster_id in self._held_clusters:    # on hold: no new step (its open one, if any, finishes)
            return False
        if self.observer.refresh_cluster(obs, m.cluster_id, now) is not ctx.cache.plans.get(m.cluster_id, (None,))[0]:
            # re-read right before the start (the observation may be minutes old): plan from what was read
            fresh = self._plan_member(ctx, m, obs, now)
            if fresh is None or not self._window_allows(ctx, fresh, now, result):
                return False
            cp = fresh
        first = cp.steps[0]
        at, why = self._may_start_now(ctx, first.minor, result, cp.timezone)
        if why:
            return False    # the window closed (or the fleet was paused) while the tick ran: stays pending
        step = step_for_provider(first, ctx.cache.policy.spec.node_pools)
        pre = self.gatekeeper.preflight(ctx.cache.policy.spec.gates, m, obs.clusters[m.cluster_id], step, at)
        if not pre.ok:
            return False    # blocked by a gate: evaluated again at the next opportunity
        step = pre.step
        try:
            record = journal.mark_step_intent(self.store, now, self.actor, self.epoch, m, step, first.minor)
        except UnstorableValueError as exc:     # e.g. a pool renamed to something no row can hold: this cluster
            self._finish_member(ctx, m, now, MemberStatus.BLOCKED, storable.refused_reason(exc))
            return False
        self._call_start(ctx, obs.clusters[m.cluster_id], record, result)
        # the member holds its slot for the rest of this tick, even if its start failed for good
        ctx.members[m.cluster_id] = replace(ctx.members[m.cluster_id], status=MemberStatus.ACTIVE)
        return True

    def _may_start_now(self, ctx: _RunCtx, minor: bool, result: TickResult,
                       zone: str | None = None) -> tuple[datetime, str]:
        """Time of check = time of use: re-read the clock and the pause switch, and check the run's status and
        window/exclusions at that instant (a tick may last minutes against slow providers). Returns the
        instant read and why a step may not start at it ("" when it may); a closed window wakes the engine at its
        opening."""
        at = self.clock.now()
        if bool(self.store.get_control("paused", False)):
            return at, "the fleet is paused"
        if ctx.run.status is not RunStatus.RUNNING:     # only this engine halts a run; commands only resume it
            return at, "the run is not running"
        window = gates.compute_window(self._schedule(ctx, zone), at, minor)
        if window.wake is not None:
            result.next_wake = min(result.next_wake, window.wake)
        return at, "" if window.open else "outside the maintenance window"

    def _call_start(self, ctx: _RunCtx, cluster: Cluster, step: StepRecord, result: TickResult) -> None:
        compiled = ctx.cache.compiled[0]
        zone = None
        if compiled.cluster_zones:
            try:
                zone = compiled.zone_of(cluster.location, cluster.labels)
            except Blocked as exc:       # its zone became unknown (a label edit): nothing starts
                journal.mark_step_deferred(self.store, step, None, str(exc))
                return
        at, why = self._may_start_now(ctx, step.minor, result, zone)
        if why:
            journal.mark_step_deferred(self.store, step, result.next_wake if result.next_wake > at else None, why)
            return          # stays intent: started (idempotently) when the window opens / the pause ends
        outcome: Any
        try:
            outcome = self.providers[cluster.provider].start(cluster, self._with_origin(ctx, cluster, step))
        except (TemporaryProviderError, PermanentProviderError) as exc:
            outcome = exc
        # journal the real call time (read right before the call); the poll schedule follows from it
        t = sm.compute_start(step, outcome, at, self.timing)
        if isinstance(t, sm.Retry):
            journal.mark_step_retry(self.store, at, self.actor, step, t)
        elif isinstance(t, sm.Failed):
            self._fail_step(ctx, step, at, t)
        else:
            result.dispatched += 1
            try:
                journal.mark_step_running(self.store, at, self.actor, self.epoch, step, t)
            except UnstorableValueError as exc:     # an operation id no row can hold: only this step fails
                self._fail_step(ctx, step, at, sm.Failed(storable.refused_reason(exc), t.provider_calls))

    @staticmethod
    def _with_origin(ctx: _RunCtx, cluster: Cluster, step: StepRecord) -> Step:
        """The step as passed to start: with its run, policy and the cluster's current plan (GitOps commits)."""
        hit = ctx.cache.plans.get(cluster.id)
        plan = " ".join(s.key for s in hit[2].steps) if hit is not None else step.key
        return replace(step.step, origin=f"run={step.run_id} policy={ctx.run.policy} plan={plan}")

    def _in_turn(self, ctx: _RunCtx) -> list[Member]:
        """The run's members in order, starting with the one its last tick was abandoned at (if any)."""
        members = list(ctx.members.values())
        start = self._resume_at.get(ctx.run.id)
        at = next((i for i, m in enumerate(members) if m.cluster_id == start), 0)
        return members[at:] + members[:at]

    def _settle_open_steps(self, ctx: _RunCtx, obs: Observation, now: datetime, paused: bool,
                           result: TickResult) -> bool:
        """Advance every open step that is due; True when any was looked at."""
        settled = False
        for m in self._in_turn(ctx):
            step = ctx.open_steps.get(m.cluster_id)
            if step is not None and m.status is MemberStatus.ACTIVE:
                if step.next_action_at is None or step.next_action_at <= now:
                    self._settle_step(ctx, step, obs, now, paused, result)
                    settled = True
        return settled

    def _settle_step(self, ctx: _RunCtx, step: StepRecord, obs: Observation, now: datetime, paused: bool,
                     result: TickResult) -> None:
        self._doing = step.cluster_id
        budget.check("settling the open step of", step.cluster_id)     # a safe point: between steps
        if not obs.fresh(step.cluster_id):
            return
        cluster = obs.clusters[step.cluster_id]
        if step.state is StepState.INTENT:
            # crashed (or retried) before the operation id was recorded: settle through the idempotent start,
            # but only when a step may start now
            if not paused and ctx.run.status is RunStatus.RUNNING:
                self._call_start(ctx, cluster, step, result)   # re-checks clock, pause and window itself
            return
        if step.state is StepState.VERIFYING:
            cluster = self.observer.refresh_cluster(obs, step.cluster_id, now) or cluster  # read after the end
            self._verify(ctx, step, cluster, now, result)
            return
        if step.state in (StepState.GATING, StepState.ROLLING_BACK):
            self._settle_gates(ctx, step, cluster, now, result)
            return
        self._poll(ctx, step, cluster, now, result)

    def _poll(self, ctx: _RunCtx, step: StepRecord, cluster: Cluster, now: datetime, result: TickResult) -> None:
        assert step.operation is not None, "a running step has an operation"
        outcome: Any
        try:
            outcome = self.providers[cluster.provider].poll(cluster, step.operation)
        except (TemporaryProviderError, PermanentProviderError) as exc:
            outcome = exc
        else:
            result.polled += 1
        t = sm.compute_poll(step, outcome, now, self.timing)
        if isinstance(t, sm.Wait):
            journal.mark_step_polled(self.store, step, t)
        elif isinstance(t, sm.Failed):
            self._fail_step(ctx, step, now, t)
        else:
            # verify against the next observation (this one may predate the operation's end)
            journal.mark_step_verifying(self.store, step, t)
            self.observer.forget_offers(step.cluster_id)

    def _verify(self, ctx: _RunCtx, step: StepRecord, cluster: Cluster, now: datetime, result: TickResult) -> None:
        have, healthy = sm.observe_version(step, cluster)
        t = sm.compute_verify(step, have, healthy, now, self.timing)
        if isinstance(t, sm.Succeeded) and ctx.cache.policy.spec.gates.post_step:
            journal.mark_step_gating(self.store, now, self.actor, step, t.version)
        elif isinstance(t, sm.Succeeded):
            journal.mark_step_succeeded(self.store, now, self.actor, step, t.version)
            result.finished_steps += 1
        elif isinstance(t, sm.Failed):
            self._fail_step(ctx, step, now, t)
        else:
            journal.mark_step_polled(self.store, step, t)

    def _fail_step(self, ctx: _RunCtx, step: StepRecord, now: datetime, t: sm.Failed) -> None:
        max_failures = ctx.cache.policy.spec.rollout.max_failures
        ctx.run = journal.mark_step_failed(self.store, now, self.actor, ctx.run, step, t, max_failures)

    def _settle_gates(self, ctx: _RunCtx, step: StepRecord, cluster: Cluster, now: datetime,
                      result: TickResult) -> None:
        """A verified step's post-step gates (fleet.execution.gating), or its rollback after one failed."""
        def fail(t: sm.Failed) -> None:
            self._fail_step(ctx, step, now, t)
        gk, gates_ = self.gatekeeper, ctx.cache.policy.spec.gates
        if step.state is StepState.ROLLING_BACK:
            gk.poll_rollback(step, cluster, now, self.timing, fail)
            return
        verdict = gk.post_step(gates_, step, cluster, now)
        if verdict.state == "passed":
            journal.mark_step_succeeded(self.store, now, self.actor, step, sm.observe_version(step, cluster)[0])
            result.finished_steps += 1
        elif verdict.state == "failed":
            gk.start_rollback(gates_, cluster, step, verdict, now, self.timing, fail)
