"""The Plan: what the planner computes for every cluster. Plain data; JSON documented in docs/plan-format.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleet.clock import iso
from fleet.planning.windows import Interval
from fleet.provider import BlueGreen, Component, Step

# "blocked-by-gate": needs an upgrade, but its pre-flight gates block it (set by the engine, fleet.execution.gating)
STATUSES = ("up-to-date", "needs-upgrade", "ahead", "blocked", "unmanaged", "blocked-by-gate")


@dataclass(slots=True)
class PlannedStep:
    component: Component
    to: str
    from_: str
    pool: str | None = None
    max_surge: int | None = None
    max_unavailable: int | None = None
    minor: bool = False           # changes the minor (matters for no-minor-upgrades exclusions)
    strategy: str | None = None   # node-pool steps: surge | blue-green (the cloud's, when it lacks the policy's)
    # node-pool steps: the policy knobs the cloud honours (UpgradeRules.knobs); None: all of them
    knobs: frozenset[str] | None = None
    # node-pool steps: the pool's own settings (a NodePoolsSpec) when a per-pool override selects it
    pool_spec: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"component": self.component.value, "pool": self.pool, "from": self.from_, "to": self.to,
                "strategy": self.strategy, "maxSurge": self.max_surge, "maxUnavailable": self.max_unavailable}

    @property
    def key(self) -> str:
        target = "cp" if self.component is Component.CONTROL_PLANE else f"pool:{self.pool}"
        return f"{target}@{self.to}"


@dataclass(slots=True)
class ClusterPlan:
    id: str
    provider: str
    provider_type: str
    name: str
    location: str
    labels: dict[str, str]
    policy: str | None
    status: str
    control_plane: str
    node_pools: dict[str, str]
    target: str | None = None
    steps: list[PlannedStep] = field(default_factory=list)
    next_window: Interval | None = None
    wave: str | None = None
    wave_index: int = 0
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    auto_upgrade: str | None = None
    timezone: str | None = None     # timezone: cluster only: the cluster's own zone its windows are read in
    stage: str | None = None        # its stage in the fleet rollout (RolloutStrategy), if there is one
    waits_for: str | None = None    # what its next step waits for in the rollout ("" or None: nothing)

    def to_dict(self) -> dict[str, Any]:
        nw = None
        if self.next_window is not None:
            nw = {"start": iso(self.next_window.start), "end": iso(self.next_window.end)}
        d = {
            "id": self.id, "provider": self.provider, "policy": self.policy, "status": self.status,
            "current": {"controlPlane": self.control_plane, "nodePools": dict(self.node_pools)},
            "target": self.target, "steps": [s.to_dict() for s in self.steps], "nextWindow": nw,
            "wave": self.wave, "reasons": list(self.reasons), "warnings": list(self.warnings),
        }
        if self.timezone is not None:       # only for timezone: cluster (the cluster's own zone)
            d["timezone"] = self.timezone
        if self.stage is not None:          # only under a fleet rollout
            d["stage"] = self.stage
            d["waitsFor"] = self.waits_for or None
        return d

    @property
    def path(self) -> list[str]:
        """Control-plane path for display: current, then each control-plane step's version."""
        return [self.control_plane] + [s.to for s in self.steps if s.component is Component.CONTROL_PLANE]


@dataclass(slots=True)
class Plan:
    at: datetime
    clusters: list[ClusterPlan]
    # the fleet rollout: its stages and each planned version's qualification per stage (None: no rollout)
    rollout: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"at": iso(self.at), "clusters": [c.to_dict() for c in self.clusters]}
        if self.rollout is not None:
            d["rollout"] = self.rollout
        return d

    def by_id(self) -> dict[str, ClusterPlan]:
        return {c.id: c for c in self.clusters}


def step_for_provider(ps: PlannedStep, spec: Any) -> Step:
    """Turn a planned step into the provider's Step with the policy's node-pool knobs (``spec`` is a
    NodePoolsSpec; a pool selected by a per-pool override carries its own). The step carries only the strategy
    and knobs the plan kept for the cloud."""
    pool_step = ps.component is Component.NODE_POOL
    if pool_step and ps.pool_spec is not None:
        spec = ps.pool_spec
    strategy = (ps.strategy or spec.strategy) if pool_step else "surge"

    def knob(name: str) -> bool:
        return pool_step and (ps.knobs is None or name in ps.knobs)
    bg = None
    if pool_step and strategy == "blue-green" and spec.blue_green is not None:
        b = spec.blue_green
        pct = float(str(b.batch_percentage).rstrip("%")) / 100 if b.batch_percentage is not None else None
        bg = BlueGreen(b.batch_node_count, pct,
                       int(b.batch_soak.total_seconds()) if b.batch_soak is not None else None,
                       int(b.node_pool_soak.total_seconds()) if b.node_pool_soak is not None else None)
    return Step(
        component=ps.component, to=ps.to, from_=ps.from_, pool=ps.pool,
        max_surge=ps.max_surge, max_unavailable=ps.max_unavailable,
        strategy=strategy, blue_green=bg,
        drain_timeout_seconds=int(spec.drain_timeout.total_seconds()) if knob("drainTimeout") and spec.drain_timeout
        else None,
        node_soak_seconds=int(spec.node_soak.total_seconds()) if knob("nodeSoak") and spec.node_soak else None,
        max_surge_spec=str(spec.max_surge) if knob("maxSurge") else None,
        max_unavailable_spec=str(spec.max_unavailable) if knob("maxUnavailable") else None,
    )
