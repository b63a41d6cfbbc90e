"""The engine: turns plans into upgrades, one journaled step at a time. The only caller of provider.start.

Each ``reconcile()``:
  1. observe the fleet (discover, offers), plan it under the current policies (for status and new runs);
  2. start a run for each policy with clusters to upgrade that are in no active run (the run snapshots the
     policy and its clusters; later policy edits never change it);
  3. for every active run: settle open steps (re-dispatch intents through the idempotent start, poll running
     operations, verify finished ones against a fresh observation), then dispatch next steps where the
     window, wave, soak, approval, concurrency, pause and halt rules all allow it.

Every transition is committed before the next action: intent → provider.start → operation id → poll →
verify → result. After a crash, an ``intent`` step is settled by calling start again (idempotent), and only
when a step may start now, so nothing is ever issued outside a window.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import Clock
from fleet.errors import InputError, PermanentProviderError, TemporaryProviderError
from fleet.execution.observe import Observation, Observer
from fleet.execution.steps import op_from_json, op_to_json, step_from_json, step_to_json
from fleet.planning.plan import ClusterPlan, Plan, step_for_provider
from fleet.planning.planner import _Memo, compile_policies, compute_cluster_plan, compute_plan
from fleet.policy.models import UpgradePolicy
from fleet.provider import Cluster, Component, OperationState, Provider, provider_rules
from fleet.state.store import Store
from fleet.versions import parse_version

log = logging.getLogger("fleet.engine")

MIN_POLL = timedelta(seconds=5)
MAX_POLL = timedelta(minutes=5)
FIRST_POLL = timedelta(seconds=30)
DEFAULT_RETRY = timedelta(seconds=60)
VERIFY_ATTEMPTS = 5
ACTIVE_RUN = ("running", "halted")


@dataclass
class TickResult:
    at: datetime
    next_wake: datetime
    dispatched: int = 0
    polled: int = 0
    finished_steps: int = 0
    runs_started: int = 0
    active_runs: int = 0


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
    row: dict[str, Any]
    policy: UpgradePolicy
    compiled: list[Any]
    clusters: list[dict[str, Any]]
    open_steps: dict[str, dict[str, Any]] = field(default_factory=dict)   # cluster id -> open step


class Engine:
    def __init__(self, store: Store, providers: Mapping[str, Provider],
                 policies: Callable[[], Sequence[UpgradePolicy]], clock: Clock, *,
                 reconcile_interval: timedelta = timedelta(seconds=60), actor: str = "engine",
                 epoch: int = 0, owns: Callable[[str], bool] | None = None, shard: int = 0,
                 replan_every: timedelta = timedelta(0), max_poll: timedelta = MAX_POLL):
        self.store = store
        self.providers = dict(providers)
        self._policies = policies
        self.clock = clock
        self.interval = reconcile_interval
        self.min_poll = min(MIN_POLL, reconcile_interval)
        self.first_poll = min(FIRST_POLL, reconcile_interval)
        self.actor = actor
        self.epoch = epoch
        self.owns = owns or (lambda cluster_id: True)
        self.shard = shard
        self.max_poll = max_poll           # cap on the gap between polls of one operation
        self.replan_every = replan_every   # forecasts plan the whole fleet (and start runs) at most this often
        self._planned_at: datetime | None = None
        # a run that asked to be woken later is skipped until then, unless another writer touched the store
        self._quiet_until: dict[str, datetime] = {}
        self._events_seen: int | None = None
        self.observer = Observer(self.providers)
        self.last_plan: Plan | None = None
        self.last_observation: Observation | None = None
        self._policy_cache: list[UpgradePolicy] = []
        self._run_caches: dict[str, _RunCache] = {}   # per active run: its compiled snapshot, memo and plans

    # ---- inputs ---------------------------------------------------------------------------------------
    def current_policies(self) -> list[UpgradePolicy]:
        try:
            self._policy_cache = list(self._policies())
        except InputError as exc:
            log.error("policies invalid; keeping the last valid set", extra={"reason": str(exc)})
        return self._policy_cache

    def _checkers(self) -> dict[str, Callable[..., list[str]]]:
        return {n: p.check_step for n, p in self.providers.items() if hasattr(p, "check_step")}

    def compute_fleet_plan(self, obs: Observation, policies: Sequence[UpgradePolicy]) -> Plan:
        clusters = [c for c in obs.clusters.values() if self.owns(c.id)]
        return compute_plan(policies, clusters, lambda c: self.observer.offers_for(c, obs.at), obs.at,
                            self._checkers(), rules=provider_rules(self.providers))

    # ---- the tick -------------------------------------------------------------------------------------
    def reconcile(self) -> TickResult:
        now = self.clock.now()
        obs = self.observer.observe_fleet(now)
        self.last_observation = obs
        result = TickResult(at=now, next_wake=now + self.interval)
        if self._planned_at is None or now - self._planned_at >= self.replan_every or self.last_plan is None:
            policies = self.current_policies()
            plan = self.compute_fleet_plan(obs, policies)
            self.last_plan = plan
            self._planned_at = now
            result.runs_started = self._start_runs(plan, policies, now)
        paused = bool(self.store.get_control("paused", False))
        if self.store.last_event_id() != self._events_seen:
            self._quiet_until.clear()      # someone else wrote (pause, approve, retry, another engine)
        for run in self.store.runs(active_only=True):
            if run.get("shard", 0) != self.shard:
                continue
            result.active_runs += 1
            quiet = self._quiet_until.get(run["id"])
            if quiet is not None and now < quiet:
                result.next_wake = min(result.next_wake, quiet)   # nothing of this run is due before then
                continue
            sub = TickResult(at=now, next_wake=now + self.interval)
            self._reconcile_run(run, obs, now, paused, sub)
            result.dispatched += sub.dispatched
            result.polled += sub.polled
            result.finished_steps += sub.finished_steps
            result.next_wake = min(result.next_wake, sub.next_wake)
            self._quiet_until[run["id"]] = sub.next_wake
        self._events_seen = self.store.last_event_id()
        return result

    # ---- runs -----------------------------------------------------------------------------------------
    def _start_runs(self, plan: Plan, policies: Sequence[UpgradePolicy], now: datetime) -> int:
        in_runs: set[str] = set()
        latest: dict[str, dict[str, Any]] = {}
        active = {r["id"] for r in self.store.runs(active_only=True)}
        created = {r["id"]: r["created_at"] for r in self.store.runs()}
        for rc in self.store.run_clusters():
            if rc["run_id"] in active:
                in_runs.add(rc["cluster_id"])
            prev = latest.get(rc["cluster_id"])
            if prev is None or created[rc["run_id"]] >= created[prev["run_id"]]:
                latest[rc["cluster_id"]] = rc
        started = 0
        by_policy: dict[str, list[ClusterPlan]] = {}
        for cp in plan.clusters:
            if cp.status != "needs-upgrade" or cp.policy is None or cp.id in in_runs:
                continue
            last = latest.get(cp.id)
            if last is not None and last["status"] == "failed":
                continue  # failed clusters wait for `fleet retry`
            by_policy.setdefault(cp.policy, []).append(cp)
        pol = {p.name: p for p in policies}
        for name, cps in sorted(by_policy.items()):
            run_id = f"{now.strftime('%Y%m%d-%H%M%S')}-{name[:40]}-{secrets.token_hex(3)}"
            snapshot = pol[name].model_dump(mode="json", by_alias=True)
            with self.store.write("start run") as conn:
                self.store.insert_run(
                    conn, id=run_id, policy=name, policy_snapshot=snapshot, status="running", failures=0,
                    approved_waves=[], wave_done_at={}, created_at=now, updated_at=now, shard=self.shard)
                self.store.insert_run_clusters(conn, [
                    {"run_id": run_id, "cluster_id": c.id, "provider": c.provider, "wave": c.wave or "default",
                     "wave_index": c.wave_index, "status": "pending", "message": "", "target": c.target}
                    for c in cps])
                self.store.add_event(conn, now, "run-started", actor=self.actor, run_id=run_id,
                                     message=f"policy {name}: {len(cps)} clusters",
                                     data={"clusters": [c.id for c in cps]})
            log.info("run started", extra={"run": run_id, "policy": name, "clusters": len(cps)})
            started += 1
        return started

    def _run_ctx(self, run: dict[str, Any]) -> _RunCtx:
        cache = self._run_caches.get(run["id"])
        if cache is None:
            policy = UpgradePolicy.model_validate(run["policy_snapshot"])
            cache = self._run_caches[run["id"]] = _RunCache(policy, compile_policies([policy]))
        ctx = _RunCtx(run, cache.policy, cache.compiled, self.store.run_clusters(run["id"]))
        for s in self.store.steps(run_id=run["id"], open_only=True):
            ctx.open_steps[s["cluster_id"]] = s
        return ctx

    def _reconcile_run(self, run: dict[str, Any], obs: Observation, now: datetime, paused: bool,
                       result: TickResult) -> None:
        ctx = self._run_ctx(run)
        rollout = ctx.policy.spec.rollout
        schedule = ctx.compiled[0].schedule
        # 1. settle open steps
        settled = False
        for rc in ctx.clusters:
            step = ctx.open_steps.get(rc["cluster_id"])
            if step is not None and rc["status"] == "active":
                if step["next_action_at"] is None or step["next_action_at"] <= now:
                    self._settle_step(ctx, rc, step, obs, now, paused, result)
                    settled = True
        if settled:
            ctx = self._run_ctx(self.store.run(run["id"]) or run)
        cache = self._run_caches[run["id"]]
        memo, plans = cache.memo.at(now), cache.plans
        checker = self._checkers()

        def plan(rc: dict[str, Any]) -> ClusterPlan | None:
            """Re-plan one member under the run's snapshot: None when it finished (done/blocked/gone)."""
            cid = rc["cluster_id"]
            if not obs.fresh(cid):
                if cid not in obs.clusters and not obs.stale_providers:
                    self._finish_cluster(ctx, rc, now, "failed", "cluster is no longer discovered")
                return None
            cluster = obs.clusters[cid]
            offers = self.observer.offers_for(cluster, now)
            hit = plans.get(cid)
            if hit is not None and hit[0] is cluster and hit[1] is offers:
                cp = hit[2]      # same observation, same offers: the same steps (only next_window would move)
            else:
                cp = compute_cluster_plan(cluster, ctx.compiled, offers, now, checker.get(cluster.provider),
                                          forced=True, memo=memo, rules=provider_rules(self.providers))
                plans[cid] = (cluster, offers, cp)
            if cp.status in ("up-to-date", "ahead"):
                self._finish_cluster(ctx, rc, now, "done", f"at {cluster.control_plane}")
                return None
            if cp.status == "blocked":
                self._finish_cluster(ctx, rc, now, "blocked", "; ".join(cp.reasons))
                return None
            return cp

        def window_allows(cp: ClusterPlan) -> bool:
            first = cp.steps[0]
            if schedule.allows(now, first.minor):
                return True
            opening = schedule.next_allowed(now, first.minor)
            if opening is not None and opening.start > now:
                result.next_wake = min(result.next_wake, opening.start)   # wake exactly at the opening
            return False

        def dispatch(rc: dict[str, Any], cp: ClusterPlan) -> None:
            first = cp.steps[0]
            step = step_for_provider(first, ctx.policy.spec.node_pools)
            self._dispatch(ctx, rc, obs.clusters[rc["cluster_id"]], step, first.minor, now, result)
            rc["status"] = "active"

        # 2. active clusters between steps: finished, or ready for their next step (they hold their slot)
        ready = []
        for rc in ctx.clusters:
            if rc["status"] == "active" and rc["cluster_id"] not in ctx.open_steps:
                cp = plan(rc)
                if cp is not None:
                    ready.append((rc, cp))
        # 3. waves, soak and approval
        wave_index, wave_ok, wake = self._wave_gate(ctx, now)
        if wake is not None:
            result.next_wake = min(result.next_wake, wake)
        if paused or ctx.row["status"] != "running" or wave_index is None:
            return
        for rc, cp in ready:
            if window_allows(cp):
                dispatch(rc, cp)
        # 4. pending clusters of the current wave, while slots last (planned only when they could start)
        if wave_ok:
            slots = rollout.max_concurrent_clusters - sum(1 for rc in ctx.clusters if rc["status"] == "active")
            for rc in ctx.clusters:
                if slots <= 0:
                    break
                if rc["status"] != "pending" or rc["wave_index"] != wave_index:
                    continue
                if not schedule.allows(now, False):     # closed even for patch steps: nothing can start
                    opening = schedule.next_allowed(now, False)
                    if opening is not None and opening.start > now:
                        result.next_wake = min(result.next_wake, opening.start)
                    break
                cp = plan(rc)
                if cp is not None and window_allows(cp):
                    dispatch(rc, cp)
                    slots -= 1
            # members of a wave that finished by themselves may complete the wave now
            self._wave_gate(ctx, now)
        self._schedule_wake(ctx, now, result)

    def _wave_gate(self, ctx: _RunCtx, now: datetime) -> tuple[int | None, bool, datetime | None]:
        """(current wave index, may pending clusters of it start, when to look again)."""
        waves = ctx.policy.spec.rollout.waves
        open_idx = sorted({rc["wave_index"] for rc in ctx.clusters if rc["status"] in ("pending", "active")})
        done_at = dict(ctx.row["wave_done_at"] or {})
        # record completed waves (every cluster of the wave finished)
        present = sorted({(rc["wave_index"], rc["wave"]) for rc in ctx.clusters})
        changed = False
        for idx, name in present:
            if idx not in open_idx and name not in done_at:
                done_at[name] = now.isoformat()
                changed = True
        if changed or not open_idx:
            with self.store.write("wave done") as conn:
                values: dict[str, Any] = {"wave_done_at": done_at, "updated_at": now}
                if not open_idx:
                    values["status"] = "done" if not any(rc["status"] == "failed" for rc in ctx.clusters) else "failed"
                self.store.update_run(conn, ctx.row["id"], **values)
                for _idx, name in present:
                    if name in done_at and name not in (ctx.row["wave_done_at"] or {}):
                        self.store.add_event(conn, now, "wave-done", actor=self.actor, run_id=ctx.row["id"],
                                             message=f"wave {name} complete")
                if not open_idx:
                    self.store.add_event(conn, now, "run-done", actor=self.actor, run_id=ctx.row["id"],
                                         message=f"run finished: {values['status']}")
            ctx.row["wave_done_at"] = done_at
            if not open_idx:
                self._run_caches.pop(ctx.row["id"], None)
        if not open_idx:
            return None, False, None
        current = open_idx[0]
        # soak of the wave just before, if it is part of this run
        before = [(i, n) for i, n in present if i < current]
        if before:
            idx, name = before[-1]
            soak = waves[idx].soak if idx < len(waves) else timedelta(0)
            ends = datetime.fromisoformat(done_at[name]) + soak
            if now < ends:
                return current, False, ends
        if current < len(waves) and waves[current].approval == "required":
            if waves[current].name not in (ctx.row["approved_waves"] or []):
                return current, False, None
        return current, True, None

    def _schedule_wake(self, ctx: _RunCtx, now: datetime, result: TickResult) -> None:
        for at in self.store.next_actions(ctx.row["id"]):
            result.next_wake = min(result.next_wake, max(now, at))

    # ---- steps ----------------------------------------------------------------------------------------
    def _dispatch(self, ctx: _RunCtx, rc: dict[str, Any], cluster: Cluster, step: Any, minor: bool,
                  now: datetime, result: TickResult) -> None:
        run_id, cid = ctx.row["id"], rc["cluster_id"]
        spec = step_to_json(step)
        with self.store.write("step intent") as conn:
            step_id = self.store.insert_step(
                conn, run_id=run_id, cluster_id=cid, step_key=step.key, component=step.component.value,
                pool=step.pool, from_version=step.from_, to_version=step.to, minor=int(minor),
                spec=spec, state="intent", attempts=0, polls=0, provider_calls=0,
                message="", epoch=self.epoch, created_at=now)
            if rc["status"] == "pending":
                self.store.update_run_cluster(conn, run_id, cid, status="active", started_at=now)
                self.store.add_event(conn, now, "cluster-started", actor=self.actor, run_id=run_id, cluster_id=cid)
            self.store.add_event(conn, now, "step-intent", actor=self.actor, run_id=run_id, cluster_id=cid,
                                 step_key=step.key, data={"from": step.from_, "to": step.to, "minor": minor,
                                                          "maxSurge": step.max_surge,
                                                          "maxUnavailable": step.max_unavailable})
        row = {"id": step_id, "run_id": run_id, "cluster_id": cid, "step_key": step.key, "spec": spec,
               "attempts": 0, "polls": 0, "provider_calls": 0, "minor": int(minor)}
        self._call_start(ctx, rc, cluster, row, now, result)

    def _call_start(self, ctx: _RunCtx, rc: dict[str, Any], cluster: Cluster, row: dict[str, Any],
                    now: datetime, result: TickResult) -> None:
        step = step_from_json(row["spec"])
        provider = self.providers[cluster.provider]
        run_id, cid = ctx.row["id"], rc["cluster_id"]
        try:
            op = provider.start(cluster, step)
        except TemporaryProviderError as exc:
            delay = timedelta(seconds=exc.retry_after) if exc.retry_after else DEFAULT_RETRY
            with self.store.write("step retry") as conn:
                self.store.update_step(conn, row["id"], attempts=row["attempts"] + 1,
                                       provider_calls=row["provider_calls"] + 1, next_action_at=now + delay,
                                       message=str(exc))
                self.store.add_event(conn, now, "step-retry", actor=self.actor, run_id=run_id, cluster_id=cid,
                                     step_key=step.key, message=str(exc))
            return
        except PermanentProviderError as exc:
            self._fail_step(ctx, rc, row, now, f"start failed: {exc}", calls=1)
            return
        result.dispatched += 1
        with self.store.write("step dispatched") as conn:
            self.store.update_step(
                conn, row["id"], state="running", operation_id=op.id, operation_data=op_to_json(op), started_at=now,
                attempts=row["attempts"] + 1, provider_calls=row["provider_calls"] + 1,
                next_action_at=now + self.first_poll, message="")
            self.store.add_event(conn, now, "step-dispatched", actor=self.actor, run_id=run_id, cluster_id=cid,
                                 step_key=step.key, operation_id=op.id,
                                 data={"to": step.to, "minor": bool(row.get("minor")), "epoch": self.epoch})
        log.info("step dispatched", extra={"run": run_id, "cluster": cid, "step": step.key, "operation": op.id})

    def _settle_step(self, ctx: _RunCtx, rc: dict[str, Any], step: dict[str, Any], obs: Observation,
                     now: datetime, paused: bool, result: TickResult) -> None:
        if step["next_action_at"] is not None and step["next_action_at"] > now:
            return
        cid = rc["cluster_id"]
        if not obs.fresh(cid):
            return
        cluster = obs.clusters[cid]
        if step["state"] == "intent":
            # crashed (or retried) before the operation id was recorded: settle through the idempotent start,
            # but only when a step may start now
            schedule = ctx.compiled[0].schedule
            if paused or ctx.row["status"] != "running" or not schedule.allows(now, bool(step["minor"])):
                return
            self._call_start(ctx, rc, cluster, step, now, result)
            return
        if step["state"] == "verifying":
            self._verify(ctx, rc, step, cluster, now, result)
            return
        provider = self.providers[cluster.provider]
        op = op_from_json(step["operation_data"])
        try:
            st = provider.poll(cluster, op)
        except TemporaryProviderError as exc:
            delay = timedelta(seconds=exc.retry_after) if exc.retry_after else DEFAULT_RETRY
            self._update_step(step, next_action_at=now + delay, provider_calls=step["provider_calls"] + 1,
                              message=str(exc))
            return
        except PermanentProviderError as exc:
            self._fail_step(ctx, rc, step, now, f"poll failed: {exc}", calls=1)
            return
        result.polled += 1
        polls = step["polls"] + 1
        if st.state is OperationState.RUNNING:
            if st.poll_after is not None:
                delay = timedelta(seconds=st.poll_after)
            else:
                delay = self.first_poll * (2 ** min(polls, 6))
            delay = min(self.max_poll, max(self.min_poll, delay))
            self._update_step(step, polls=polls, provider_calls=step["provider_calls"] + 1,
                              next_action_at=now + delay, message=st.message)
        elif st.state is OperationState.FAILED:
            self._fail_step(ctx, rc, step, now, f"operation {op.id} failed: {st.message}", calls=1, polls=polls)
        else:
            # verify against the next observation (this one may predate the operation's end)
            self._update_step(step, state="verifying", polls=polls, provider_calls=step["provider_calls"] + 1,
                              next_action_at=now, message="verifying")
            self.observer.forget_offers(cid)

    def _verify(self, ctx: _RunCtx, rc: dict[str, Any], step: dict[str, Any], cluster: Cluster,
                now: datetime, result: TickResult) -> None:
        spec = step_from_json(step["spec"])
        want = parse_version(spec.to)
        if spec.component is Component.CONTROL_PLANE:
            have, healthy = cluster.control_plane, cluster.healthy
        else:
            pool = cluster.pool(spec.pool or "")
            have, healthy = (pool.version, pool.healthy and cluster.healthy) if pool else ("", False)
        ok = bool(have) and parse_version(have).same_release(want) and healthy
        if ok:
            with self.store.write("step succeeded") as conn:
                self.store.update_step(conn, step["id"], state="succeeded", finished_at=now, next_action_at=None,
                                       message="verified")
                self.store.add_event(conn, now, "step-succeeded", actor=self.actor, run_id=ctx.row["id"],
                                     cluster_id=rc["cluster_id"], step_key=spec.key, operation_id=step["operation_id"],
                                     data={"version": have, "calls": step["provider_calls"]})
            result.finished_steps += 1
            return
        attempts = step["attempts"] + 1
        why = f"health gate: expected {spec.to}, found {have or 'nothing'}" + ("" if healthy else ", unhealthy")
        if attempts >= VERIFY_ATTEMPTS + 1:
            self._fail_step(ctx, rc, step, now, why)
        else:
            self._update_step(step, attempts=attempts, next_action_at=now + self.min_poll * attempts, message=why)

    def _update_step(self, step: dict[str, Any], **values: Any) -> None:
        with self.store.write("step update") as conn:
            self.store.update_step(conn, step["id"], **values)

    def _fail_step(self, ctx: _RunCtx, rc: dict[str, Any], step: dict[str, Any], now: datetime, why: str,
                   calls: int = 0, polls: int | None = None) -> None:
        run_id, cid = ctx.row["id"], rc["cluster_id"]
        max_failures = ctx.policy.spec.rollout.max_failures
        with self.store.write("step failed") as conn:
            values: dict[str, Any] = {"state": "failed", "finished_at": now, "next_action_at": None, "message": why,
                                      "provider_calls": step.get("provider_calls", 0) + calls}
            if polls is not None:
                values["polls"] = polls
            self.store.update_step(conn, step["id"], **values)
            self.store.update_run_cluster(conn, run_id, cid, status="failed", message=why, finished_at=now)
            failures = ctx.row["failures"] + 1
            run_values: dict[str, Any] = {"failures": failures, "updated_at": now}
            if failures >= max_failures and ctx.row["status"] == "running":
                run_values["status"] = "halted"
            self.store.update_run(conn, run_id, **run_values)
            self.store.add_event(conn, now, "step-failed", actor=self.actor, run_id=run_id, cluster_id=cid,
                                 step_key=step["step_key"], operation_id=step.get("operation_id"), message=why)
            self.store.add_event(conn, now, "cluster-failed", actor=self.actor, run_id=run_id, cluster_id=cid,
                                 message=why)
            if run_values.get("status") == "halted":
                self.store.add_event(conn, now, "run-halted", actor=self.actor, run_id=run_id,
                                     message=f"{failures} failures reached maxFailures={max_failures}")
        ctx.row["failures"] = failures
        if run_values.get("status"):
            ctx.row["status"] = run_values["status"]
        log.warning("step failed", extra={"run": run_id, "cluster": cid, "step": step["step_key"], "reason": why})

    def _finish_cluster(self, ctx: _RunCtx, rc: dict[str, Any], now: datetime, status: str, message: str) -> None:
        run_id, cid = ctx.row["id"], rc["cluster_id"]
        with self.store.write("cluster finished") as conn:
            self.store.update_run_cluster(conn, run_id, cid, status=status, message=message, finished_at=now)
            kind = {"done": "cluster-upgraded", "blocked": "cluster-blocked"}.get(status, "cluster-failed")
            self.store.add_event(conn, now, kind, actor=self.actor, run_id=run_id, cluster_id=cid, message=message)
        rc["status"] = status

    # ---- operator actions -------------------------------------------------------------------------------
    def set_paused(self, paused: bool, actor: str = "api") -> None:
        set_paused(self.store, self.clock.now(), paused, actor)


def set_paused(store: Store, now: datetime, paused: bool, actor: str) -> None:
    with store.write("pause") as conn:
        store.set_control(conn, "paused", paused)
        store.add_event(conn, now, "paused" if paused else "resumed", actor=actor)
    if not paused:
        resume_runs(store, now, actor)


def resume_runs(store: Store, now: datetime, actor: str, run_id: str | None = None) -> int:
    """Un-halt halted runs (their failure count restarts at 0)."""
    n = 0
    for r in store.runs(active_only=True):
        if r["status"] == "halted" and (run_id is None or r["id"] == run_id):
            with store.write("resume run") as conn:
                store.update_run(conn, r["id"], status="running", failures=0, updated_at=now)
                store.add_event(conn, now, "run-resumed", actor=actor, run_id=r["id"])
            n += 1
    return n


def approve_wave(store: Store, now: datetime, run_id: str, wave: str, actor: str) -> None:
    r = store.run(run_id)
    if r is None:
        raise KeyError(f"no run {run_id}")
    waves = [w["name"] for w in r["policy_snapshot"]["spec"].get("rollout", {}).get("waves", [])]
    if wave not in waves:
        raise KeyError(f"run {run_id} has no wave {wave!r} (waves: {', '.join(waves) or 'none'})")
    approved = list(r["approved_waves"] or [])
    if wave not in approved:
        approved.append(wave)
    with store.write("approve") as conn:
        store.update_run(conn, run_id, approved_waves=approved, updated_at=now)
        store.add_event(conn, now, "wave-approved", actor=actor, run_id=run_id, message=f"wave {wave} approved")


def retry_run(store: Store, now: datetime, run_id: str, actor: str) -> int:
    """Re-queue only the clusters that failed in this run."""
    r = store.run(run_id)
    if r is None:
        raise KeyError(f"no run {run_id}")
    failed = [rc for rc in store.run_clusters(run_id) if rc["status"] == "failed"]
    with store.write("retry") as conn:
        for rc in failed:
            store.update_run_cluster(conn, run_id, rc["cluster_id"], status="pending", message="retried",
                                     finished_at=None)
        done_at = {k: v for k, v in (r["wave_done_at"] or {}).items()
                   if k not in {rc["wave"] for rc in failed}}
        store.update_run(conn, run_id, status="running", failures=0, wave_done_at=done_at, updated_at=now)
        store.add_event(conn, now, "run-retried", actor=actor, run_id=run_id,
                        message=f"{len(failed)} failed clusters re-queued", data={"clusters": [rc["cluster_id"] for rc in failed]})
    return len(failed)
