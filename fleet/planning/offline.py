"""Plan from files: policies + an Inventory (no provider is called)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fleet.errors import InputError, Problem
from fleet.planning.plan import Plan
from fleet.planning.planner import compute_plan
from fleet.policy.loader import Loaded, inventory_clusters, load_files


def offline_plan(policies: Path, inventory: Path, now: datetime) -> Plan:
    """Load both inputs (reporting the problems of both at once), then plan."""
    problems: list[Problem] = []
    loaded: list[Loaded] = []
    for path, kind in ((policies, "UpgradePolicy"), (inventory, "Inventory")):
        try:
            loaded.append(load_files([path], kinds=(kind,)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    pol, inv = loaded
    if len(inv.inventories) != 1:
        raise InputError([Problem(str(inventory), None, "", f"expected one Inventory document, found {len(inv.inventories)}")])
    clusters, offers = inventory_clusters(inv.inventories[0])
    return compute_plan(pol.policies, clusters, offers, now)
