"""The simulation's state: clusters, node pools and operations that take (virtual) time.

Every call is counted so tests can prove that no upgrade was issued twice. The world can be persisted to a
JSON file so a simulated fleet survives a daemon restart.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.clock import Clock, iso
from fleet.provider import Cluster, NodePool
from providers.sim.checks import SimChecks


@dataclass
class SimPool:
    name: str
    version: str
    nodes: int = 1
    available: list[str] = field(default_factory=list)


@dataclass
class SimCluster:
    id: str
    provider: str
    location: str
    name: str
    control_plane: str
    pools: list[SimPool] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    available: list[str] = field(default_factory=list)
    auto_upgrade: str | None = None
    healthy: bool = True
    provider_type: str = ""       # the seeded cluster's type when it differs from its provider name
    facts: dict[str, Any] = field(default_factory=dict)   # the emulated type's facts (its upgrade rules)


@dataclass
class SimOperation:
    id: str
    cluster_id: str
    step_key: str
    component: str
    pool: str | None
    to: str
    started_at: str
    duration_s: float
    fail: bool = False
    state: str = "running"        # running | succeeded | failed
    budget: dict[str, Any] = field(default_factory=dict)


@dataclass
class Faults:
    """Fault injection. Rates are probabilities per call, drawn from a seeded RNG (deterministic runs)."""

    api_error_rate: float = 0.0      # TemporaryProviderError (5xx / throttling) on any call
    step_failure_rate: float = 0.0   # an operation that ends FAILED
    latency_s: float = 0.0           # added to each call through the clock (virtual latency)
    fail_steps: set[str] = field(default_factory=set)   # "cluster_id|step_key" that must fail
    unhealthy_after: set[str] = field(default_factory=set)  # cluster ids reported unhealthy after a step
    seed: int = 0


class SimApiError(Exception):
    """The simulated cloud's API error (an HTTP status); errors.translate maps it to a fleet error."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


_ONE_SHOT = {  # what each one-shot fault (SimWorld.next_faults) answers
    "throttle": lambda: SimApiError(429, "throttled", retry_after=7.0),
    "server-error": lambda: SimApiError(500, "server error"),
    "forbidden": lambda: SimApiError(403, "forbidden"),
}


class SimWorld:
    def __init__(self, clock: Clock, *, cp_duration: timedelta = timedelta(minutes=20),
                 pool_duration: timedelta = timedelta(minutes=10), faults: Faults | None = None,
                 state_file: str | Path | None = None,
                 durations: dict[str, tuple[timedelta, timedelta]] | None = None,
                 step_model: Any = None):
        self.clock = clock
        # the forecast's step model (fleet.reports.calibration.StepModel): step_duration(provider type, step,
        # nodes) -> timedelta; when set, it decides every step's duration instead of ``durations``
        self.step_model = step_model
        self.cp_duration = cp_duration
        self.pool_duration = pool_duration
        self.durations = durations or {}   # provider type -> (control-plane step, node-pool step per batch)
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.clusters: dict[str, SimCluster] = {}
        self.operations: dict[str, SimOperation] = {}
        self.running: dict[str, SimOperation] = {}                  # cluster id -> its running operation
        self.revision: dict[str, int] = {}                          # cluster id -> bumped on every change
        self.generation = 0                                         # bumped on every change to any cluster
        self.provider_generation: Counter[str] = Counter()          # seeded provider name -> its changes
        self._next_end: datetime | None = None                      # earliest running end; None: unknown
        self._snapshots: dict[tuple[str, str], tuple[int, Cluster]] = {}
        self.by_step: dict[tuple[str, str], list[SimOperation]] = {}  # (cluster id, step key) -> operations
        self.calls: Counter[str] = Counter()          # method -> count
        self.upgrade_log: list[tuple[str, str]] = []  # (cluster_id, step_key) for every operation created
        self.next_faults: list[str] = []   # one-shot API faults for the next calls (emulator.kit.inject)
        self.checks: dict[str, SimChecks] = {}   # cluster id -> its safety-gate scenario (providers/sim/checks.py)
        self.rollback_log: list[tuple[str, str]] = []  # (cluster_id, step_key) of every rollback started
        self.lock = threading.RLock()
        self.state_file = Path(state_file) if state_file else None
        self._seq = 0
        if self.state_file and self.state_file.exists():
            self._load()

    # ---- seeding ------------------------------------------------------------------------------------
    def add(self, c: Cluster) -> None:
        with self.lock:
            self.clusters[c.id] = SimCluster(
                id=c.id, provider=c.provider, location=c.location, name=c.name, control_plane=c.control_plane,
                pools=[SimPool(p.name, p.version, p.nodes, list(p.available)) for p in c.node_pools],
                labels=dict(c.labels), available=list(c.available), auto_upgrade=c.auto_upgrade,
                provider_type=c.provider_type if c.provider_type != c.provider else "", facts=dict(c.facts))
            self.touch(c.id)
            self.save()

    def seed_if_empty(self, clusters: list[Cluster]) -> None:
        with self.lock:
            if not self.clusters:
                for c in clusters:
                    self.add(c)

    # ---- time ---------------------------------------------------------------------------------------
    def settle(self) -> None:
        """Complete every operation whose time has come; versions change only then."""
        now = self.clock.now()
        changed = False
        with self.lock:
            if self._next_end is not None and now < self._next_end:
                return                      # nothing can have finished yet
            self._next_end = None
            for op in list(self.running.values()):
                ends = datetime.fromisoformat(op.started_at) + timedelta(seconds=op.duration_s)
                if now < ends:
                    self._next_end = ends if self._next_end is None else min(self._next_end, ends)
                else:
                    del self.running[op.cluster_id]
                    self.touch(op.cluster_id)
                    changed = True
                    if op.fail:
                        op.state = "failed"
                        continue
                    op.state = "succeeded"
                    c = self.clusters[op.cluster_id]
                    if op.component == "control-plane":
                        c.control_plane = op.to
                    else:
                        for p in c.pools:
                            if p.name == op.pool:
                                p.version = op.to
                    if op.cluster_id in self.faults.unhealthy_after:
                        c.healthy = False
            if changed:
                self.save()

    def set_checks(self, cluster_id: str, **scenario: Any) -> SimChecks:
        """Set (part of) a cluster's safety-gate scenario; the cluster's snapshot changes with it."""
        with self.lock:
            current = self.checks.setdefault(cluster_id, SimChecks())
            for k, v in scenario.items():
                if not hasattr(current, k):
                    raise TypeError(f"unknown sim check scenario field {k!r}")
                setattr(current, k, v)
            self.touch(cluster_id)
            return current

    def running_op(self, cluster_id: str) -> SimOperation | None:
        return self.running.get(cluster_id)

    def touch(self, cluster_id: str) -> None:
        self.revision[cluster_id] = self.revision.get(cluster_id, 0) + 1
        self.generation += 1
        c = self.clusters.get(cluster_id)
        if c is not None:
            self.provider_generation[c.provider] += 1

    def add_operation(self, op: SimOperation) -> None:
        self.operations[op.id] = op
        self.touch(op.cluster_id)
        if op.state == "running":
            self.running[op.cluster_id] = op
            self._next_end = None
        self.by_step.setdefault((op.cluster_id, op.step_key), []).append(op)

    def operations_for(self, cluster_id: str, step_key: str) -> list[SimOperation]:
        return self.by_step.get((cluster_id, step_key), [])

    def step_durations(self, cluster_id: str) -> tuple[timedelta, timedelta]:
        c = self.clusters[cluster_id]
        return self.durations.get(c.provider_type or c.provider, (self.cp_duration, self.pool_duration))

    def next_id(self) -> str:
        self._seq += 1
        return f"sim-op-{self._seq:06d}"

    def raise_queued_fault(self) -> None:
        """Fail this API call with the one-shot fault queued for it, if any."""
        fault = self.next_faults.pop(0) if self.next_faults else None
        if fault is not None:
            raise _ONE_SHOT.get(fault, _ONE_SHOT["server-error"])()

    def raise_api_error(self, method: str) -> None:
        """Fail this API call at the configured random rate (``faults.api_error_rate``)."""
        if self.maybe_api_error():
            raise SimApiError(503, f"simulated API error in {method}", retry_after=5.0)

    def maybe_api_error(self) -> bool:
        return self.faults.api_error_rate > 0 and self.rng.random() < self.faults.api_error_rate

    def maybe_step_failure(self, key: str) -> bool:
        if key in self.faults.fail_steps:
            return True
        return self.faults.step_failure_rate > 0 and self.rng.random() < self.faults.step_failure_rate

    # ---- persistence --------------------------------------------------------------------------------
    def save(self) -> None:
        if not self.state_file:
            return
        data = {
            "seq": self._seq,
            "clusters": [asdict(c) for c in self.clusters.values()],
            "operations": [asdict(o) for o in self.operations.values()],
            "upgrade_log": self.upgrade_log,
            "calls": dict(self.calls),
            "saved_at": iso(self.clock.now()),
        }
        tmp = self.state_file.with_name(f"{self.state_file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.state_file)

    def _load(self) -> None:
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text())
        self._seq = data["seq"]
        for c in data["clusters"]:
            pools = [SimPool(**p) for p in c.pop("pools")]
            self.clusters[c["id"]] = SimCluster(pools=pools, **c)
        for o in data["operations"]:
            self.add_operation(SimOperation(**o))
        self.upgrade_log = [tuple(x) for x in data["upgrade_log"]]
        self.calls = Counter(data.get("calls", {}))

    # ---- views --------------------------------------------------------------------------------------
    def snapshot(self, cid: str, provider_name: str) -> Cluster:
        """The cluster as the provider named ``provider_name`` reports it; its type stays the seeded one
        (a simulated EKS cluster is planned with EKS spelling rules and matched by ``providers: [eks]``)."""
        rev = self.revision.get(cid, 0)
        hit = self._snapshots.get((cid, provider_name))
        if hit is not None and hit[0] == rev:
            return hit[1]
        snap = self._snapshot(cid, provider_name)
        self._snapshots[(cid, provider_name)] = (rev, snap)
        return snap

    def _snapshot(self, cid: str, provider_name: str) -> Cluster:
        c = self.clusters[cid]
        running = self.running_op(cid)
        return Cluster(
            provider=provider_name, location=c.location, name=c.name, control_plane=c.control_plane,
            node_pools=tuple(NodePool(p.name, p.version, p.nodes, tuple(p.available),
                                      upgrading=bool(running and running.pool == p.name)) for p in c.pools),
            labels=dict(c.labels), id=c.id, provider_type=c.provider_type or c.provider, available=tuple(c.available),
            auto_upgrade=c.auto_upgrade, healthy=c.healthy, upgrading=running is not None, facts=dict(c.facts),
            extra={"sim.rollback": self.checks[cid].facts()} if cid in self.checks else {},
        )
