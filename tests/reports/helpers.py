"""Small builders for report tests: planned clusters, lifecycle data from text, forecast-shaped objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fleet.planning.plan import ClusterPlan, Plan, PlannedStep
from fleet.planning.windows import Interval
from fleet.provider import Component
from fleet.reports.lifecycle import Lifecycle, parse_lifecycle

AT = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)

LIFECYCLE = """\
apiVersion: fleet.dev/v1alpha1
kind: LifecycleData
asOf: "2026-08-01"
providers:
  kubernetes:
    extendedSupport: false
    releases:
      "1.30": {released: 2024-04-17, endOfStandardSupport: 2025-07-15}
      "1.33": {released: 2025-04-23, endOfStandardSupport: 2026-06-28}
      "1.34": {released: 2025-08-27, endOfStandardSupport: 2026-10-27}
      "1.35": {released: 2025-12-17, endOfStandardSupport: 2027-02-28}
  eks:
    releases:
      "1.31": {released: 2024-09-26, endOfStandardSupport: 2025-11-26, endOfExtendedSupport: 2026-11-26}
      "1.32": {released: 2025-01-25, endOfStandardSupport: 2026-03-23, endOfExtendedSupport: 2027-03-23}
      "1.33": {released: 2025-05-28, endOfStandardSupport: 2026-08-21, endOfExtendedSupport: 2027-07-29}
      "1.34": {released: 2025-10-06, endOfStandardSupport: 2026-12-02, endOfExtendedSupport: 2027-12-02}
      "1.35": {released: 2026-01-28, endOfStandardSupport: 2027-03-27, endOfExtendedSupport: 2028-03-27}
  gke:
    releases:
      "1.33": {released: 2025-06-03, endOfStandardSupport: 2026-08-03}
      "1.34": {released: 2025-09-30, endOfStandardSupport: 2026-10-01}
  oke:
    follows: kubernetes
"""


def lifecycle(text: str = LIFECYCLE) -> Lifecycle:
    return Lifecycle(parse_lifecycle("test-lifecycle.yaml", text), "test")


def planned(cp: str = "1.34.2", *, provider: str = "eks", status: str = "up-to-date", target: str | None = None,
            pools: dict[str, str] | None = None, steps: list[tuple[str, str, str | None]] | None = None,
            policy: str | None = "prod", cid: str = "c1", reasons: list[str] | None = None,
            window: Interval | None = None, wave: str | None = "default") -> ClusterPlan:
    """A planned cluster. ``steps``: (from, to, pool or None)."""
    ps = []
    for frm, to, pool in steps or []:
        comp = Component.CONTROL_PLANE if pool is None else Component.NODE_POOL
        ps.append(PlannedStep(comp, to, frm, pool, minor=frm.split(".")[:2] != to.split(".")[:2]))
    return ClusterPlan(id=cid, provider=provider, provider_type=provider, name=cid, location="eu-1",
                       labels={"env": "prod"}, policy=policy, status=status, control_plane=cp,
                       node_pools=dict(pools if pools is not None else {"default": cp}), target=target or cp,
                       steps=ps, next_window=window, wave=wave, reasons=list(reasons or []))


def plan_of(*clusters: ClusterPlan, at: datetime = AT) -> Plan:
    return Plan(at, list(clusters))


@dataclass
class CF:
    completion: datetime | None
    wave: str | None = None
    steps_done: int = 0


@dataclass
class FakeForecast:
    """Shaped like fleet.reports.forecast.Forecast (what the report reads of it)."""

    clusters: dict[str, CF] = field(default_factory=dict)
    fleet_done: datetime | None = None
    waves: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
