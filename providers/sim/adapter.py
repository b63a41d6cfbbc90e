"""SimProvider: implements fleet.provider.Provider over a SimWorld (in memory, virtual time)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import Clock, SystemClock, iso
from fleet.errors import OperationNotFound, PermanentProviderError, ProviderError, TemporaryProviderError
from fleet.provider import (
    BuiltinCheck,
    CheckOutcome,
    CheckResult,
    Cluster,
    Component,
    OperationRef,
    OperationState,
    OperationStatus,
    RollbackSupport,
    Step,
    UpgradeRules,
    VersionOffers,
)
from fleet.versions import parse_version
from providers.sim import checks as sim_checks
from providers.sim.budget import compute_batches, compute_warnings
from providers.sim.errors import translate
from providers.sim.rules import Facts, compute_refusal, compute_rules
from providers.sim.settings import SimFaults, SimSettings, parse_settings
from providers.sim.world import Faults, SimApiError, SimOperation, SimWorld


class SimProvider:
    """Settings (all optional): ``inventory`` (an Inventory file to seed from), ``stateFile`` (persist the
    world as JSON so it survives restarts), ``controlPlaneDuration`` / ``nodePoolDuration`` (virtual time
    per step, default 20m / 10m), ``faults`` (``apiErrorRate``, ``stepFailureRate``, ``seed``,
    ``failSteps``: ["cluster-id|step-key"])."""

    type = "sim"
    settings_model = SimSettings
    World = SimWorld          # forecasts build a world through the class found by entry point
    facts_model = Facts

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        """The emulated type's rules (a simulated EKS cluster plans and fails as EKS would), else the
        rules a ``sim`` cluster's facts state (providers/sim/rules.py)."""
        return compute_rules(cluster)

    def __init__(self, name: str = "sim", settings: Mapping[str, Any] | None = None, *,
                 clock: Clock | None = None, world: SimWorld | None = None, config_dir: str | None = None,
                 mirror_of: str | None = None, **_: Any):
        self.name = name
        self.mirror_of = mirror_of   # discover only clusters seeded under this provider name (forecasts)
        self._ids: tuple[int, list[str]] | None = None
        self._listed: tuple[int, list[Cluster]] | None = None
        settings = dict(settings or {})
        self.clock = clock or SystemClock()
        if world is None:
            world = self._world_from_settings(settings, config_dir)
        self.world = world

    def _world_from_settings(self, raw: dict[str, Any], config_dir: str | None) -> SimWorld:
        from pathlib import Path
        settings = parse_settings(raw)
        base = Path(config_dir) if config_dir else Path.cwd()
        f = settings.faults or SimFaults()
        faults = Faults(api_error_rate=f.apiErrorRate, step_failure_rate=f.stepFailureRate,
                        fail_steps=set(f.failSteps), seed=f.seed)
        state_file = settings.stateFile
        cp, pool = settings.controlPlaneDuration, settings.nodePoolDuration
        world = SimWorld(self.clock,
                         cp_duration=timedelta(minutes=20) if cp is None else cp,
                         pool_duration=timedelta(minutes=10) if pool is None else pool,
                         faults=faults, state_file=(base / state_file) if state_file else None)
        self._apply_gate_scenarios(world, settings)
        inv = settings.inventory
        if inv:
            from fleet.policy.loader import inventory_clusters, load_inventory
            clusters, offers = inventory_clusters(load_inventory(base / inv))
            seeded = []
            for c in clusters:
                if not c.available and c.provider in offers:
                    from dataclasses import replace
                    c = replace(c, available=offers[c.provider].control_plane)
                seeded.append(c)
            world.seed_if_empty(seeded)
        return world

    def _apply_gate_scenarios(self, world: SimWorld, settings: SimSettings) -> None:
        now = self.clock.now()
        for cid, sc in settings.gateScenarios.items():
            world.set_checks(
                cid, blockers={"*": list(sc.blockers)} if sc.blockers else {}, unhealthy=sc.unhealthy,
                backup_at=None if sc.backupAge is None else now - sc.backupAge,
                nodes_not_ready_for=-1.0 if sc.nodesNeverReady else (
                    sc.nodesNotReadyFor.total_seconds() if sc.nodesNotReadyFor else 0.0),
                rollback=sc.rollback,
                rollback_within=None if sc.rollbackWithin is None else int(sc.rollbackWithin.total_seconds()))

    # ---- contract -------------------------------------------------------------------------------------
    def _call(self, method: str) -> None:
        """Every API call goes through here: the world's errors become fleet errors (errors.translate)."""
        w = self.world
        try:
            w.raise_queued_fault()
            w.calls[method] += 1
            if w.faults.latency_s:
                self.clock.sleep(w.faults.latency_s)
            w.raise_api_error(method)
        except SimApiError as exc:
            err = translate(exc, provider=self.name, operation=method)
            if err is None:
                raise
            raise err from exc

    def discover(self) -> list[Cluster]:
        with self.world.lock:
            self._call("discover")
            self.world.settle()
            w = self.world
            if self._ids is None or self._ids[0] != len(w.clusters):
                ids = [cid for cid in sorted(w.clusters)
                       if self.mirror_of is None or w.clusters[cid].provider == self.mirror_of]
                self._ids = (len(w.clusters), ids)
            gen = w.generation if self.mirror_of is None else w.provider_generation[self.mirror_of]
            if self._listed is None or self._listed[0] != gen:   # nothing of ours changed: the same list
                self._listed = (gen, [w.snapshot(cid, self.name) for cid in self._ids[1]])
            return self._listed[1]   # the same list while nothing changed (read-only to callers)

    def refresh(self, cluster: Cluster) -> Cluster | None:
        """One cluster as it is now (None: gone); the same object while nothing about it changed."""
        with self.world.lock:
            self._call("refresh")
            self.world.settle()
            if cluster.id not in self.world.clusters:
                return None
            return self.world.snapshot(cluster.id, self.name)

    def describe(self, cluster_id: str) -> Cluster:
        with self.world.lock:
            self._call("describe")
            self.world.settle()
            if cluster_id not in self.world.clusters:
                raise PermanentProviderError(f"cluster {cluster_id} not found", provider=self.name, code="404")
            return self.world.snapshot(cluster_id, self.name)

    def offers(self, cluster: Cluster) -> VersionOffers:
        with self.world.lock:
            self._call("offers")
            c = self._cluster(cluster)
            return VersionOffers(tuple(c.available), {p.name: tuple(p.available) for p in c.pools if p.available})

    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        return compute_warnings(step)

    def _cluster(self, cluster: Cluster):  # noqa: ANN202
        c = self.world.clusters.get(cluster.id)
        if c is None:
            raise PermanentProviderError(f"cluster {cluster.id} not found", provider=self.name, code="404")
        return c

    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        w = self.world
        with w.lock:
            self._call("start")
            w.settle()
            c = self._cluster(cluster)
            running = w.running_op(c.id)
            if running is not None:
                if running.step_key == step.key:
                    return self._ref(running)          # already moving to this version: same operation
                raise TemporaryProviderError(f"operation {running.id} already in progress on {c.id}",
                                             provider=self.name, code="409", retry_after=60.0)
            current = c.control_plane if step.component is Component.CONTROL_PLANE else self._pool(c, step).version
            if parse_version(current) == parse_version(step.to):
                done = [o for o in w.operations_for(c.id, step.key) if o.state == "succeeded"]
                if done:
                    return self._ref(done[-1])
                op = SimOperation(w.next_id(), c.id, step.key, step.component.value, step.pool, step.to,
                                  iso(self.clock.now()) or "", 0.0, state="succeeded")
                w.add_operation(op)
                w.save()
                return self._ref(op)
            seen = w.snapshot(c.id, self.name)
            refusal = compute_refusal(seen, step, type(self).upgrade_rules(seen))
            if refusal is not None:
                raise PermanentProviderError(refusal, provider=self.name, code="400")
            if step.component is Component.CONTROL_PLANE:
                offered = c.available
                duration = w.step_durations(c.id)[0]
            else:
                pool = self._pool(c, step)
                offered = pool.available or c.available
                duration = w.step_durations(c.id)[1] * compute_batches(step, pool.nodes)
                if not parse_version(step.to).not_newer_than(parse_version(c.control_plane)):
                    raise PermanentProviderError(f"node pool {step.pool} cannot run {step.to}, newer than the "
                                                 f"control plane {c.control_plane}", provider=self.name, code="400")
            if w.step_model is not None:     # the forecast's calibrated model (fleet.reports.calibration)
                nodes = 0 if step.component is Component.CONTROL_PLANE else self._pool(c, step).nodes
                duration = w.step_model.step_duration(c.provider_type or c.provider, step, nodes)
            # a node pool may always join its control plane's version (as on every cloud), offered or not
            joins_cp = step.component is not Component.CONTROL_PLANE and step.to == c.control_plane
            if offered and step.to not in offered and not joins_cp:
                raise PermanentProviderError(f"version {step.to} is not offered for {c.id}", provider=self.name,
                                             code="400")
            op = SimOperation(w.next_id(), c.id, step.key, step.component.value, step.pool, step.to,
                              self.clock.now().isoformat(), duration.total_seconds(),
                              fail=w.maybe_step_failure(f"{c.id}|{step.key}"),
                              budget={"maxSurge": step.max_surge, "maxUnavailable": step.max_unavailable,
                                      "strategy": step.strategy})
            w.add_operation(op)
            w.upgrade_log.append((c.id, step.key))
            w.save()
            return self._ref(op)

    def _pool(self, c, step: Step):  # noqa: ANN001, ANN202
        for p in c.pools:
            if p.name == step.pool:
                return p
        raise PermanentProviderError(f"node pool {step.pool} not found in {c.id}", provider=self.name, code="404")

    def _ref(self, op: SimOperation) -> OperationRef:
        return OperationRef(op.id, op.cluster_id, op.step_key, {"started_at": op.started_at})

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        w = self.world
        with w.lock:
            self._call("poll")
            w.settle()
            o = w.operations.get(op.id)
            if o is None:
                raise OperationNotFound(f"operation {op.id} not found", provider=self.name, code="404")
            if o.state == "succeeded":
                return OperationStatus(OperationState.SUCCEEDED, "done", 1.0)
            if o.state == "failed":
                return OperationStatus(OperationState.FAILED, "simulated step failure")
            elapsed = (self.clock.now() - datetime.fromisoformat(o.started_at)).total_seconds()
            remaining = max(1.0, o.duration_s - elapsed)
            return OperationStatus(OperationState.RUNNING, "in progress",
                                   min(1.0, elapsed / o.duration_s) if o.duration_s else None, poll_after=remaining)

    # ---- safety gates (providers/sim/checks.py: driven by the world's per-cluster scenario) --------------
    def supported_checks(self, cluster: Cluster) -> frozenset[str]:
        sc = self.world.checks.get(cluster.id)
        return sc.supported() if sc is not None else sim_checks.BASE_CHECKS

    def run_check(self, cluster: Cluster, check: BuiltinCheck, step: Step, params: Mapping[str, Any],
                  now: datetime) -> CheckOutcome:
        """One built-in check against the simulated world; a failing call (an injected error, an unknown
        cluster) is an ERROR outcome, as the contract asks, never an exception."""
        try:
            return self._run_check(cluster, check, step, params, now)
        except ProviderError as exc:
            kind = "permanent" if isinstance(exc, PermanentProviderError) else "temporary"
            return CheckOutcome(CheckResult.ERROR, f"provider {self.name}: {exc}",
                                {"error": kind, "code": getattr(exc, "code", "") or ""})

    def _run_check(self, cluster: Cluster, check: BuiltinCheck, step: Step, params: Mapping[str, Any],
                   now: datetime) -> CheckOutcome:
        w = self.world
        with w.lock:
            self._call("run_check")
            w.settle()
            c = self._cluster(cluster)
            sc = w.checks.get(c.id) or sim_checks.SimChecks()
            if check is BuiltinCheck.UPGRADE_BLOCKERS:
                return sim_checks.check_blockers(sc, step)
            if check is BuiltinCheck.CLUSTER_HEALTH:
                return sim_checks.check_health(sc, c.healthy)
            if check is BuiltinCheck.ETCD_BACKUP and sc.backup_at is not None:
                return sim_checks.check_backup(sc, params, now)
            if check is BuiltinCheck.NODES_READY:
                version = c.control_plane if step.component is Component.CONTROL_PLANE else self._pool(c, step).version
                done = [o for o in w.operations_for(c.id, step.key) if o.state == "succeeded"]
                ended = (datetime.fromisoformat(done[-1].started_at) + timedelta(seconds=done[-1].duration_s)
                         if done else None)
                return sim_checks.check_nodes(sc, version, step, ended, now)
            return CheckOutcome(CheckResult.ERROR, f"provider sim does not evaluate {check}")

    @classmethod
    def rollback_support(cls, cluster: Cluster, step: Step) -> RollbackSupport | None:
        return sim_checks.rollback_support(cluster, step)

    def rollback(self, cluster: Cluster, step: Step, op: OperationRef) -> OperationRef:
        """Move the step's component back to ``step.from_`` (an operation polled like any other)."""
        w = self.world
        with w.lock:
            self._call("rollback")
            w.settle()
            c = self._cluster(cluster)
            sc = w.checks.get(c.id)
            if sc is None or not sc.rollback:
                raise PermanentProviderError(f"{step.key} of {c.id} cannot be rolled back", provider=self.name,
                                             code="400")
            running = w.running_op(c.id)
            if running is not None:
                if running.step_key == f"rollback:{step.key}":
                    return self._ref(running)
                raise TemporaryProviderError(f"operation {running.id} already in progress on {c.id}",
                                             provider=self.name, code="409", retry_after=60.0)
            back = SimOperation(w.next_id(), c.id, f"rollback:{step.key}", step.component.value, step.pool,
                                step.from_, self.clock.now().isoformat(), sc.rollback_duration)
            w.add_operation(back)
            w.rollback_log.append((c.id, step.key))
            w.save()
            return self._ref(back)
