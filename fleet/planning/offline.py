"""Plan from files: policies + an Inventory (no provider is called)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fleet.planning.plan import Plan
from fleet.planning.planner import compute_plan
from fleet.policy.loader import load_offline_fleet


def offline_plan(policies: Path, inventory: Path, now: datetime) -> Plan:
    """Load both inputs (reporting the problems of both at once), then plan."""
    pols, clusters, offers = load_offline_fleet(policies, inventory)
    return compute_plan(pols, clusters, offers, now)
