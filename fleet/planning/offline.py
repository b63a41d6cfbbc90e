"""Plan from files: policies + an Inventory (no provider is called)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fleet.planning.plan import Plan
from fleet.planning.planner import compute_plan
from fleet.policy.loader import inventory_clusters, load_files


def offline_plan(policies: Path, inventory: Path, now: datetime) -> Plan:
    from fleet.errors import InputError, Problem
    pol = load_files([policies], kinds=("UpgradePolicy",))
    inv = load_files([inventory], kinds=("Inventory",))
    if len(inv.inventories) != 1:
        raise InputError([Problem(str(inventory), None, "", f"expected one Inventory document, found {len(inv.inventories)}")])
    clusters, offers = inventory_clusters(inv.inventories[0])
    return compute_plan(pol.policies, clusters, offers, now)
