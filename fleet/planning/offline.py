"""Plan from files: policies + an Inventory (no provider is called). Each cluster gets the upgrade rules of
its provider type (the class found through its ``fleet.providers`` entry point; rules import no SDK), from
the facts the inventory states, so an offline plan is the plan a live one would be."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fleet.planning.plan import Plan
from fleet.planning.planner import compute_plan
from fleet.planning.rollout import annotate_plan, compute_qualifier
from fleet.policy.loader import load_offline_fleet, load_policy_set
from fleet.provider import type_rules


def offline_plan(policies: Path, inventory: Path, now: datetime) -> Plan:
    """Load both inputs (reporting the problems of both at once), then plan."""
    pols, clusters, offers = load_offline_fleet(policies, inventory)
    plan = compute_plan(pols, clusters, offers, now, rules=type_rules())
    rollout = load_policy_set(policies)[1]
    if rollout is not None:     # no journal offline: qualification from the inventory's versions alone
        annotate_plan(plan, compute_qualifier(rollout, clusters, (), (), now))
    return plan
