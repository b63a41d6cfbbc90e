"""The simulated cloud's safety-gate checks and rollback (fleet.provider BuiltinCheck, RollbackSupport),
driven by per-cluster scenario data (:class:`SimChecks`, ``SimWorld.checks``). A simulated cloud has no
real API to cite: what each check reads is stated here and in docs/gates.md ("Per provider": sim).

* upgrade-blockers: FAIL while the scenario lists blockers for the target minor (or for every target: "*");
* cluster-health: FAIL while the cluster is unhealthy (the world's health, or the scenario's reason);
* etcd-backup: evaluated only for a cluster whose scenario states a last backup (a self-managed control
  plane); FAIL when it is older than ``maxAgeSeconds``; any other cluster: not supported;
* nodes-ready: FAIL until the step's component runs ``step.to`` and ``nodesNotReadyFor`` seconds have passed
  since its operation ended (negative: never ready);
* rollback: allowed when the scenario says so (within ``rollbackWithin`` seconds of the step, if set); it
  is an operation that moves the component back to ``step.from_`` in ``rollbackDuration``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet.provider import CheckOutcome, CheckResult, Cluster, Component, RollbackSupport, Step
from fleet.versions import parse_version

BASE_CHECKS = frozenset({"upgrade-blockers", "cluster-health", "nodes-ready"})
ROLLBACK_API = "SimRollbackStep"


@dataclass
class SimChecks:
    blockers: dict[str, list[str]] = field(default_factory=dict)   # target minor ("1.30") or "*" -> blockers
    unhealthy: str = ""                     # cluster-health fails with this reason while set
    backup_at: datetime | None = None       # the newest etcd backup (None: no self-managed etcd)
    nodes_not_ready_for: float = 0.0        # seconds after a step's operation ended (negative: never ready)
    rollback: bool = False                  # the cloud can roll a finished step back
    rollback_within: int | None = None      # ... within this many seconds of the step
    rollback_duration: float = 300.0

    def supported(self) -> frozenset[str]:
        return BASE_CHECKS | ({"etcd-backup"} if self.backup_at is not None else frozenset())

    def facts(self) -> dict[str, Any]:
        """What the cluster snapshot carries (Cluster.extra["sim.rollback"]) for the pure rollback_support."""
        return {"withinSeconds": self.rollback_within} if self.rollback else {}


def _minor(version: str) -> str:
    v = parse_version(version)
    return f"{v.major}.{v.minor}"


def check_blockers(checks: SimChecks, step: Step) -> CheckOutcome:
    found = [*checks.blockers.get(_minor(step.to), []), *checks.blockers.get("*", [])]
    evidence = {"target": step.to, "blockers": found}
    if found:
        return CheckOutcome(CheckResult.FAIL, f"{len(found)} upgrade blocker(s) for {step.to}: {'; '.join(found)}",
                            evidence)
    return CheckOutcome(CheckResult.PASS, f"no upgrade blockers for {step.to}", evidence)


def check_health(checks: SimChecks, healthy: bool) -> CheckOutcome:
    if checks.unhealthy or not healthy:
        why = checks.unhealthy or "the cluster reports unhealthy"
        return CheckOutcome(CheckResult.FAIL, why, {"healthy": False})
    return CheckOutcome(CheckResult.PASS, "control plane and node pools healthy", {"healthy": True})


def check_backup(checks: SimChecks, params: Mapping[str, Any], now: datetime) -> CheckOutcome:
    assert checks.backup_at is not None, "supported only with a backup time"
    age = (now - checks.backup_at).total_seconds()
    limit = params.get("maxAgeSeconds")
    evidence = {"newestBackup": checks.backup_at.isoformat(), "ageSeconds": int(age), "maxAgeSeconds": limit}
    if limit is None:
        return CheckOutcome(CheckResult.ERROR, "maxAgeSeconds not given", evidence)
    if age > float(limit):
        return CheckOutcome(CheckResult.FAIL, f"newest etcd backup is {int(age)}s old, older than {limit}s", evidence)
    return CheckOutcome(CheckResult.PASS, f"newest etcd backup is {int(age)}s old", evidence)


def check_nodes(checks: SimChecks, version: str, step: Step, ended: datetime | None, now: datetime) -> CheckOutcome:
    what = "control plane" if step.component is Component.CONTROL_PLANE else f"node pool {step.pool}"
    evidence = {"component": what, "version": version, "expected": step.to}
    if parse_version(version) != parse_version(step.to):
        return CheckOutcome(CheckResult.FAIL, f"{what} runs {version}, not {step.to}", evidence)
    wait = checks.nodes_not_ready_for
    if wait < 0 or ended is None or now < ended + timedelta(seconds=wait):
        return CheckOutcome(CheckResult.FAIL, f"nodes of the {what} not Ready at {step.to}", evidence)
    return CheckOutcome(CheckResult.PASS, f"every node of the {what} Ready at {step.to}", evidence)


def rollback_support(cluster: Cluster, step: Step) -> RollbackSupport | None:
    facts = cluster.extra.get("sim.rollback")
    if not facts:
        return None
    return RollbackSupport(ROLLBACK_API, facts.get("withinSeconds"), "the simulated cloud's rollback")
