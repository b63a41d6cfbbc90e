"""`fleet daemon`: APScheduler runs the reconcile on its interval, again exactly at each window opening and
whenever a tick asks to wake earlier (an operation due for a poll); the HTTP API serves status and control.
SIGTERM / SIGINT stop it cleanly (the tick in progress finishes; nothing is left half-written)."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.budget import Budget, BudgetExceeded
from fleet.clock import Clock, SystemClock, iso
from fleet.daemon.risks import reconcile_risk_list
from fleet.errors import FencedError, StateError
from fleet.execution.commands import approve_wave, retry_run, set_paused
from fleet.execution.model import TickResult
from fleet.execution.stages import mark_promotion_approved
from fleet.logs import register_secret
from fleet.planning.plan import Plan
from fleet.planning.planner import compile_policies
from fleet.runtime import Runtime

log = logging.getLogger("fleet.daemon")

PROBE_EVERY_S = 2.0     # the acting replica's readiness write probe, at most this often (wall seconds)


def _why(exc: BaseException) -> str:
    """An exception as ``Class: message`` with the driver's error class (ReadOnlySqlTransaction ...), short,
    one line (driver messages may carry SQL, never credentials: URLs are not part of them)."""
    orig = getattr(exc.__cause__, "orig", None) or exc.__cause__
    tail = f" ({orig.__class__.__name__})" if orig is not None else ""
    return f"{exc.__class__.__name__}: {exc}{tail}".replace("\n", " ")[:300]


def _server_class() -> Any:
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises the signals it captured after shutdown, killing the process before our own
        clean-up runs; the daemon installs its own handlers instead."""

        @contextlib.contextmanager
        def capture_signals(self):
            yield

    return Server


def read_token(path: str | None, base: Path) -> str | None:
    if not path:
        return None
    p = Path(path) if Path(path).is_absolute() else base / path
    tok = p.read_text(encoding="utf-8").strip()
    if not tok:
        raise ValueError(f"token file {p} is empty")
    register_secret(tok)
    return tok


class Daemon:
    def __init__(self, runtime: Runtime, clock: Clock | None = None, *, leader: Any = None):
        from fleet.daemon.metrics import Metrics
        self.rt = runtime
        self.engine = runtime.engine
        self.store = runtime.store
        self.clock = clock or runtime.engine.clock
        self.wall = SystemClock()
        http = runtime.config.spec.http
        base = runtime.config_file.resolve().parent
        from fleet.daemon.auth import build_authenticator
        from fleet.daemon.exposure import warn_exposure
        self.auth = build_authenticator(http, base)   # refuses placeholder tokens (fleet.daemon.auth)
        self.allowed_hosts = list(http.allowed_hosts)
        warn_exposure(runtime.config, base, self.auth)
        self.route_plugins: list[Any] = []              # more API routes: fn(app, daemon, role) (fleet.daemon.api)
        self.max_body_bytes = http.max_body_bytes
        self.metrics = Metrics()
        self.leader = leader
        self._lock = threading.Lock()
        self._ticks = 0
        self._view_pair: tuple[list[dict[str, Any]], list[bytes]] = ([], [])
        self._compliance: dict[str, Any] = {}     # cluster id -> ClusterCompliance of the last tick
        self._scheduler: Any = None
        self._stopping = threading.Event()
        self._providers_stale = False              # set on a takeover; the next tick reopens the providers
        self._init_watchdog()
        # ---- webhook notifications (fleet.notify): secrets are read now, delivery runs on wall time ----
        from fleet.notify.webhooks import build_notifier
        self.notifier = build_notifier(runtime.config, runtime.config_file, self.store, self.wall,
                                       is_leader=self.is_leader)
        # ---- end webhook notifications ----
        self._init_leader(leader)

    # ---- the watchdog (fleet.daemon.watchdog) and the tick budget (fleet.budget) ----------------------
    def _init_watchdog(self) -> None:
        from fleet.daemon.watchdog import Watchdog
        spec = self.rt.config.spec
        factor = float(getattr(self.clock, "factor", 1.0)) or 1.0
        interval_s = self.engine.interval.total_seconds() / factor
        budget = spec.reconcile_budget
        self.budget_s = budget.total_seconds() if budget is not None else max(3 * interval_s, 60.0)
        item = spec.reconcile_item_budget
        self.item_budget_s = item.total_seconds() if item is not None else self.budget_s / 4
        self.shutdown_grace_s = spec.shutdown_grace.total_seconds()
        self.watchdog = Watchdog(interval_s=interval_s, budget_s=self.budget_s, monotonic=self.wall.monotonic)
        self._tick_budget: Budget | None = None
        self._probe: tuple[float, str | None] | None = None    # (when, problem) of the last write probe
        self.forced_exit = False

    def _run_tick(self) -> TickResult | None:
        """One reconcile under the tick budget; every outcome is told to the watchdog."""
        self.watchdog.tick_started()
        error: str | None = None
        write_error: str | None = None
        try:
            with Budget(self.budget_s, "reconcile", item_seconds=self.item_budget_s) as b:
                self._tick_budget = b
                res = self.engine.reconcile()
            self.metrics.items_over_budget.inc(len(self.engine.over_budget))
            return res
        except BudgetExceeded as exc:
            error = str(exc)
            if not self.is_leader():     # cancelled by _on_lose: as a fenced write would have stopped it
                log.warning("the lease was lost during a tick; stopped acting", extra={"reason": error})
            else:
                self.metrics.reconcile_abandoned.inc()
                log.error("reconcile abandoned at a safe point", extra={"reason": error})
        except FencedError as exc:
            error = f"lease lost: {exc}"
            log.warning("the lease was lost during a tick; stopped acting", extra={"reason": str(exc)})
        except StateError as exc:
            error = write_error = f"{exc.__class__.__name__}: {exc}"[:500]
            self.metrics.reconcile_errors.inc()
            log.error("reconcile failed: the state store refused", extra={"reason": error})
        except Exception as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:500]
            self.metrics.reconcile_errors.inc()
            log.exception("reconcile failed")
        finally:
            self._tick_budget = None
            self.watchdog.tick_finished(error, write_error=write_error)
        return None

    # ---- leadership (fleet.daemon.leader) -----------------------------------------------------------
    def _init_leader(self, leader: Any) -> None:
        """Standbys serve reads; the engine's store is fenced by the elector. Operator writes (pause, approve,
        retry) are valid on any replica, so they go through a second, unfenced store handle."""
        self.control_store = self.store
        self.metrics.leader.set(1 if leader is None else 0)
        if leader is None:
            return
        from fleet.state.store import SqlStore
        self.control_store = SqlStore(self.store.url, migrate=False)
        leader.transition_lock = self._lock          # take over only between ticks
        leader.on_acquire.append(self._on_acquire)
        leader.on_lose.append(self._on_lose)
        leader.health = self.watchdog.health         # a wedged reconcile loop lets the lease go

    def _on_acquire(self, epoch: int, previous: str | None) -> None:
        # runs under self._lock, in the lease's renew thread: keep it short (the lease's deadline runs from the
        # attempt that won it). Another replica may have acted since our providers were built: they are
        # reopened by the first tick (_reopen_providers), not here.
        if previous is not None and previous != getattr(self.leader, "identity", None):
            self._providers_stale = True
        self.metrics.leader.set(1)
        self.watchdog.became_leader()
        self.wake_now()

    def _reopen_providers(self) -> None:
        """Before the first tick after a takeover from another replica: reopen the providers, so a provider's
        cached or file-backed view (the sim's stateFile) is read afresh."""
        self._providers_stale = False
        from fleet.execution.observe import Observer
        from fleet.runtime import build_providers
        try:
            providers = build_providers(self.rt.config_file, self.rt.config, self.engine.clock)
        except Exception as exc:  # noqa: BLE001 - keep the providers we have; they were valid at start-up
            log.warning("could not re-open the providers on taking over", extra={"reason": str(exc)[:300]})
            return
        self.rt.providers = providers
        self.engine.providers = dict(providers)
        old = self.engine.observer      # a new observer of the new providers, on the configured cadence
        self.engine.observer = Observer(self.engine.providers, offers_ttl=old.offers_ttl,
                                        discovery_interval=old.discovery_interval)

    def _on_lose(self, why: str) -> None:
        self.metrics.leader.set(0)
        self.watchdog.lost_leadership()
        tick = self._tick_budget
        if tick is not None:         # fenced already; stop the tick at its next safe point, so that it does not
            tick.cancel("the lease was lost")   # hold the tick lock a re-acquisition waits for

    def leader_info(self) -> dict[str, Any]:
        if self.leader is None:
            return {"backend": "none", "leader": True, "epoch": self.engine.epoch, "shard": self.engine.shard}
        return {**self.leader.describe(), "shard": self.engine.shard}

    # ---- state for the API ------------------------------------------------------------------------
    def is_leader(self) -> bool:
        return self.leader is None or self.leader.is_leader()

    def ready(self) -> tuple[bool, str]:
        """Readiness (fleet.daemon.watchdog): progress, a valid policy set, a store that answers and - on the
        acting replica - takes writes. The ``fleet_ready`` gauge follows every answer."""
        ok, why = self.watchdog.ready(acting=self.is_leader(), policy_problem=self.engine.policy_problem)
        if ok:
            problem = self._store_problem()
            if problem is not None:
                ok, why = False, problem
        self.metrics.ready.set(1 if ok else 0)
        self.metrics.policy_set_valid.set(0 if self.engine.policy_problem else 1)
        return ok, why

    def _store_problem(self) -> str | None:
        """None when the store answers a read and, on the acting replica, takes a write: a one-row upsert
        (``readiness-probe``) through the engine's own (fenced) store, at most every PROBE_EVERY_S, so a
        leader whose database turned read-only (a fail-over to a standby, a full disk, revoked grants) or
        unreachable is not ready even while its ticks have nothing to write."""
        try:
            self.store.get_control("paused", False)
        except Exception as exc:  # noqa: BLE001 - readiness reports any store failure
            self._probe = None
            return f"state store unreachable: {_why(exc)}"
        if not self.is_leader():
            return None
        mono = self.wall.monotonic()
        if self._probe is not None and mono - self._probe[0] < PROBE_EVERY_S:
            return self._probe[1]
        problem = None
        try:
            with self.store.write("readiness probe") as conn:
                self.store.set_control(conn, "readiness-probe", {"at": iso(self.wall.now())})
        except Exception as exc:  # noqa: BLE001
            problem = f"the state store refuses writes: {_why(exc)}"
            log.error("readiness: the state store refuses writes", extra={"reason": problem})
        self._probe = (mono, problem)
        return problem

    def last_plan(self) -> Plan | None:
        return self.engine.last_plan

    def paused(self) -> bool:
        return bool(self.store.get_control("paused", False))

    def set_paused(self, paused: bool, actor: str) -> None:
        set_paused(self.control_store, self.clock.now(), paused, actor)
        self.metrics.paused.set(1 if paused else 0)
        self.wake_now()

    def approve(self, run_id: str, wave: str, actor: str = "api") -> None:
        approve_wave(self.control_store, self.clock.now(), run_id, wave, actor)
        self.wake_now()

    def promote(self, stage: str, version: str, actor: str = "api") -> Any:
        """Approve ``version`` for ``stage`` of the fleet rollout (fleet.execution.stages)."""
        a = mark_promotion_approved(self.control_store, self.clock.now(), actor, self.engine.rollout, stage,
                                    version)
        self.wake_now()
        return a

    def retry(self, run_id: str, actor: str = "api") -> int:
        n = retry_run(self.control_store, self.clock.now(), run_id, actor)
        self.wake_now()
        return n

    # ---- holds (fleet.execution.holds) ----------------------------------------------------------------
    def holds(self) -> dict[str, Any]:
        from fleet.execution.holds import read_holds
        return read_holds(self.store).to_dict()

    def hold(self, kind: Any, target: str, reason: str, actor: str) -> None:
        from fleet.execution.holds import set_hold
        set_hold(self.control_store, self.clock.now(), kind, target, reason, actor)
        self.wake_now()

    def release(self, kind: Any, target: str, actor: str) -> bool:
        from fleet.execution.holds import release_hold
        done = release_hold(self.control_store, self.clock.now(), kind, target, actor)
        self.wake_now()
        return done

    def rollouts(self, members: bool = True) -> list[dict[str, Any]]:
        """Every run with its counts; ``members``: with each cluster's row too (heavy with 10,000 clusters)."""
        out = []
        for r in self.store.runs():
            rows = self.store.members(r.id)
            counts: dict[str, int] = {}
            for m in rows:
                counts[m.status.value] = counts.get(m.status.value, 0) + 1
            from fleet.reports.inputs import compute_waves_awaiting_approval
            waiting = compute_waves_awaiting_approval(r.policy_snapshot, r.approved_waves)
            out.append({"id": r.id, "policy": r.policy, "status": r.status.value, "failures": r.failures,
                        "createdAt": iso(r.created_at), "approvedWaves": list(r.approved_waves),
                        "awaitingApproval": sorted(waiting) if r.status.value == "running" else [],
                        "waveDoneAt": dict(r.wave_done_at), "clusters": counts,
                        **({"members": [{"cluster": m.cluster_id, "wave": m.wave, "status": m.status.value,
                                         "message": m.message} for m in rows]} if members else {})})
        return out

    def compliance_summary(self) -> dict[str, Any]:
        """The last tick's tallies: clusters by compliance status and by upgrade state (every value), at risk."""
        from fleet.reports.compliance import STATUSES, UPGRADE_STATES
        by_c, by_u = dict.fromkeys(STATUSES, 0), dict.fromkeys(UPGRADE_STATES, 0)
        for c in self._compliance.values():
            by_c[c.status] += 1
            by_u[c.upgrade_state] += 1
        return {"clusters": len(self._compliance), "byCompliance": by_c, "byUpgradeState": by_u,
                "atRisk": sum(1 for c in self._compliance.values() if c.at_risk)}

    def upgrade_states(self) -> dict[str, str]:
        """Each cluster's upgrade state as of the last tick (fleet.reports.compliance.UPGRADE_STATES)."""
        return {cid: c.upgrade_state for cid, c in self._compliance.items()}

    def cluster_view_json(self, *, status: str | None, provider: str | None, limit: int, offset: int,
                          compliance: str | None = None, upgrade_state: str | None = None) -> bytes:
        """``{"total": N, "clusters": [...]}``: one page of the plan view (every cluster with its rollout, its
        compliance status and its upgrade state) as JSON bytes, joined from rows encoded once per tick (50
        clients reading 10,000 clusters must not re-encode them on every request)."""
        rows, encoded = self._view_pair
        if status or provider or compliance or upgrade_state:
            encoded = [e for r, e in zip(rows, encoded, strict=True)
                       if (not status or r["status"] == status) and (not provider or r["provider"] == provider)
                       and (not compliance or (r.get("compliance") or {}).get("status") == compliance)
                       and (not upgrade_state or (r.get("upgradeState") or {}).get("state") == upgrade_state)]
        return b'{"total":%d,"clusters":[%s]}' % (len(encoded), b",".join(encoded[offset:offset + limit]))

    def _refresh_view(self) -> None:
        plan = self.engine.last_plan
        if plan is None:
            return
        latest = self.store.latest_memberships()
        view = []
        for c in plan.clusters:
            d = c.to_dict()
            m = latest.get(c.id)
            d["rollout"] = None if m is None else {"run": m.run_id, "status": m.status.value, "message": m.message}
            cc = self._compliance.get(c.id)      # fleet.reports.compliance: one status, one upgrade state
            d["compliance"] = None if cc is None else {"status": cc.status, "atRisk": cc.at_risk}
            d["upgradeState"] = None if cc is None else {"state": cc.upgrade_state, "reason": cc.upgrade_reason}
            view.append(d)
        encoded = [json.dumps(d, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode() for d in view]
        self._view_pair = (view, encoded)

    # ---- ticking ----------------------------------------------------------------------------------
    def tick(self) -> TickResult | None:
        if self._stopping.is_set():
            return None
        if not self.is_leader():
            return None
        with self._lock:
            if self._stopping.is_set() or not self.is_leader():   # stop() may have begun while we waited
                return None
            t0 = time.perf_counter()
            if self._providers_stale:
                self._reopen_providers()
            try:
                res = self._run_tick()
            finally:
                self.metrics.reconciles.inc()
                self.metrics.reconcile_seconds.observe(time.perf_counter() - t0)
            if res is None:
                return None
            self.metrics.last_reconcile.set(self.wall.now().timestamp())
            self._ticks += 1
            self.metrics.dispatched.inc(res.dispatched)
            self.metrics.finished.inc(res.finished_steps)
            self.metrics.active_runs.set(res.active_runs)
            self.metrics.paused.set(1 if self.paused() else 0)
            self._observe_fleet()
            if res.runs_started or res.finished_steps:     # the forecast made at run start (#18)
                from fleet.daemon.forecasts import observe_forecast_accuracy, record_run_forecasts
                if res.runs_started:
                    record_run_forecasts(self, res.at)
                observe_forecast_accuracy(self.store, self.metrics)
            self._refresh_view()
            self._schedule_wake(res)
            return res

    def _observe_fleet(self) -> None:
        """After a tick: export the plan and compliance metrics, and hand the risk list to the notifier."""
        plan = self.engine.last_plan
        if plan is None:
            return
        now = self.clock.now()
        self.metrics.observe_plan(plan)
        compliance = self.metrics.observe_compliance(plan, self.metrics.active_lifecycle(), now, store=self.store)
        try:                                # a wave waiting for a person: one event (and webhook) per wave
            from fleet.execution.approvals import reconcile_approval_waits
            reconcile_approval_waits(self.store, now)
        except StateError as exc:           # tried again after the next tick
            log.warning("cannot record approval waits", extra={"reason": str(exc)})
        from fleet.daemon.risks import compute_risk_list
        at_risk = compute_risk_list(compliance, now)
        for c in compliance:
            c.at_risk = c.id in at_risk
        self._compliance = {c.id: c for c in compliance}
        if self.notifier is not None:
            try:
                reconcile_risk_list(self.store, self.notifier, compliance, now, self.engine.owns)
            except StateError as exc:   # the list is compared again after the next tick
                log.warning("cannot read the risk list", extra={"reason": str(exc)})

    def _virtual_to_wall(self, when: datetime) -> datetime:
        factor = float(getattr(self.clock, "factor", 1.0))
        delay = max(0.0, (when - self.clock.now()).total_seconds() / factor)
        return self.wall.now() + timedelta(seconds=delay)

    def next_window_opening(self, now: datetime, horizon: timedelta) -> datetime | None:
        best = None
        plan = self.engine.last_plan
        zones = sorted({cp.timezone for cp in plan.clusters if cp.timezone}) if plan is not None else []
        for c in compile_policies(self.engine._policy_cache):
            # timezone: cluster: the openings in every zone the fleet's clusters are planned in
            schedules = [c.schedule_in(z) for z in zones] if c.cluster_zones else [c.schedule]
            for sched in schedules:
                for t in sched.openings(now, now + horizon):
                    if t > now and (best is None or t < best):
                        best = t
                        break
        return best

    def _schedule_wake(self, res: TickResult) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        when = res.next_wake
        opening = self.next_window_opening(res.at, self.engine.interval * 2)
        if opening is not None and opening < when:
            when = opening
        if when < res.at + self.engine.interval:
            scheduler.add_job(self.tick, "date", run_date=self._virtual_to_wall(when), id="wake",
                              replace_existing=True, misfire_grace_time=None)

    def wake_now(self) -> None:
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.add_job(self.tick, "date", run_date=self.wall.now(), id="wake",
                              replace_existing=True, misfire_grace_time=None)

    # ---- lifecycle --------------------------------------------------------------------------------
    def start_scheduler(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
        from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
        if self.notifier is not None:   # webhook notifications: cursors are set before the first tick
            self.notifier.start()
        factor = float(getattr(self.clock, "factor", 1.0))
        interval = max(0.05, self.engine.interval.total_seconds() / factor)
        self._scheduler = BackgroundScheduler(timezone="UTC", executors={"default": ThreadPoolExecutor(1)},
                                              job_defaults={"coalesce": True, "max_instances": 1})
        self._scheduler.add_job(self.tick, "interval", seconds=interval, id="reconcile",
                                next_run_time=self.wall.now())
        self._scheduler.start()

    def stop(self) -> None:
        self._stopping.set()
        tick = self._tick_budget
        if tick is not None:
            tick.cancel("the daemon is stopping")   # the tick in progress stops at its next safe point
        # Let the tick in progress finish BEFORE shutting the scheduler down, and detach the scheduler under the
        # tick lock: APScheduler's shutdown(wait=True) holds its job-store lock while it waits for running jobs,
        # so a tick still ending with add_job (_schedule_wake, or wake_now on a lease takeover) would wait on
        # that lock for ever, and shutdown on the tick. Later ticks see _stopping and no scheduler.
        if not self._lock.acquire(timeout=self.shutdown_grace_s):
            self._stop_without_the_tick(tick)
            return
        try:
            scheduler, self._scheduler = self._scheduler, None
        finally:
            self._lock.release()
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        if self.notifier is not None:   # webhook notifications: stop before the lease and the store go
            self.notifier.stop()
        if self.leader is not None:
            self.leader.release()
        if self.control_store is not self.store:
            self.control_store.close()
        self.store.close()

    def _stop_without_the_tick(self, tick: Budget | None) -> None:
        """The tick did not stop within the grace (blocked in a provider call): give the lease up (the fence
        stops that tick's writes; every step it issued was journaled before it was sent) and let serve() end
        the process."""
        log.error("the reconcile in progress did not stop within the shutdown grace; exiting without it",
                  extra={"reason": f"grace {self.shutdown_grace_s:g}s; it was "
                                   f"{(tick.doing if tick else '') or 'calling a provider'}"})
        self.forced_exit = True
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if self.notifier is not None:
            self.notifier.stop()
        if self.leader is not None:
            self.leader.release()

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT: scheduler in the background, the HTTP API in the foreground."""
        import uvicorn

        from fleet.daemon.api import create_app
        _Server = _server_class()
        http = self.rt.config.spec.http
        host, _, port = http.listen.rpartition(":")
        base = self.rt.config_file.resolve().parent
        ssl: dict[str, Any] = {}
        if http.tls_cert_file and http.tls_key_file:
            ssl = {"ssl_certfile": str(base / http.tls_cert_file), "ssl_keyfile": str(base / http.tls_key_file)}
        config = uvicorn.Config(create_app(self), host=host.strip("[]"), port=int(port), log_config=None,
                                access_log=False, lifespan="off",
                                timeout_graceful_shutdown=max(1, int(self.shutdown_grace_s)), **ssl)
        server = _Server(config)

        def _stop(signum: int, _frame: Any) -> None:
            log.info("signal received; stopping", extra={"reason": signal.Signals(signum).name})
            server.should_exit = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if self.leader is not None:
            self.leader.start()
        self.start_scheduler()
        log.info("daemon started", extra={"path": str(self.rt.config_file)})
        try:
            server.run()
        finally:
            log.info("daemon stopping")
            self.stop()
            log.info("daemon stopped")
            if self.forced_exit:     # a tick thread is still blocked: do not wait for it at interpreter exit
                logging.shutdown()
                os._exit(0)
