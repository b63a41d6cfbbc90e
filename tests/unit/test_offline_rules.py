"""Offline plans (`fleet plan --inventory`) apply each provider type's rules from the facts the inventory
states, and give the same steps and warnings as a live plan of the same clusters through the provider."""

from __future__ import annotations

from pathlib import Path

from fleet.clock import FakeClock
from fleet.planning.offline import offline_plan
from fleet.planning.planner import compute_plan
from fleet.policy.loader import load_offline_fleet
from fleet.provider import provider_rules
from providers.sim.adapter import SimProvider
from providers.sim.world import SimWorld
from tests.unit.test_planner import NOW

POLICY = """\
apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata: {name: p}
spec:
  target: {version: "1.30"}
  path: minor-by-minor
  nodePools: {upgrade: skip-level, maxSurge: 2, maxUnavailable: 0}
"""
INVENTORY = """\
apiVersion: fleet.dev/v1alpha1
kind: Inventory
offers:
  sim: ["1.28.9", "1.29.8", "1.30.4"]
clusters:
  - provider: sim
    location: lab
    name: eks-like
    controlPlane: "1.28.9"
    nodePools: [{name: ng, version: "1.28.9", nodes: 4}]
    facts: {poolsMatchBeforeCpMinor: true, knobs: [maxUnavailable], strategies: [surge]}
  - provider: sim
    location: lab
    name: autopilot-like
    controlPlane: "1.28.9"
    nodePools: [{name: default, version: "1.28.9"}]
    facts: {poolsFollowControlPlane: true}
"""


def test_offline_plan_applies_the_rules_the_facts_state_and_equals_the_live_plan(tmp_path: Path):
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "inv.yaml").write_text(INVENTORY)
    plan = offline_plan(tmp_path / "p.yaml", tmp_path / "inv.yaml", NOW).by_id()
    eks, auto = plan["sim/lab/eks-like"], plan["sim/lab/autopilot-like"]
    assert [(s.pool or "cp", s.to, s.max_surge, s.max_unavailable) for s in eks.steps] == [
        ("cp", "1.29.8", None, None), ("ng", "1.29.8", None, 1), ("cp", "1.30.4", None, None), ("ng", "1.30.4", None, 1)]
    assert eks.warnings == ["maxSurge is not honoured by sim: left out of the node-pool steps"]
    assert [(s.pool or "cp", s.to) for s in auto.steps] == [("cp", "1.29.8"), ("cp", "1.30.4")]

    # live: the same clusters discovered through the provider, planned with the providers' rules
    pols, clusters, offers = load_offline_fleet(tmp_path / "p.yaml", tmp_path / "inv.yaml")
    world = SimWorld(FakeClock(NOW))
    for c in clusters:
        world.add(c.__class__(**{**{f: getattr(c, f) for f in c.__slots__}, "available": offers["sim"].control_plane}))
    provider = SimProvider("sim", clock=FakeClock(NOW), world=world)
    live = compute_plan(pols, provider.discover(), lambda c: provider.offers(c), NOW,
                        {"sim": provider.check_step}, rules=provider_rules({"sim": provider})).by_id()
    for cid, off in plan.items():
        assert [s.to_dict() for s in live[cid].steps] == [s.to_dict() for s in off.steps]
        assert live[cid].warnings == off.warnings
