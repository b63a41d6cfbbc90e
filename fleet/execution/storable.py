"""Values the store cannot hold are one cluster's problem, never the fleet's (#22).

The store refuses a NUL character anywhere and a string longer than its column (fleet.state.values), before
the write, with UnstorableValueError. Before that boundary the engine:

- plans a cluster to upgrade whose rows could not be stored (its id, name, a pool name or a version with a NUL
  or too long) as ``blocked``, with the column and the reason (``compute_storable_plan``): no run takes it,
  `fleet plan` / the daemon's plan show why, and it is logged once per cluster, not every tick;
- makes provider text printable before it is journaled (``printable``): a NUL in a provider's message is
  written as the four characters ``\\x00``, so an odd message never fails a write;
- fails only its own cluster when a write is refused anyway (an operation id the store cannot hold):
  ``refused_reason`` is the member's or step's message.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from fleet.planning.plan import ClusterPlan, Plan
from fleet.state.errors import UnstorableValueError
from fleet.state.values import unstorable_field

log = logging.getLogger("fleet.engine")

NUL = "\x00"
ID_PREVIEW = 80          # characters of an unstorable cluster id shown in logs


def printable(text: str) -> str:
    """``text`` with each NUL written as ``\\x00`` (PostgreSQL stores no NUL in text)."""
    return text.replace(NUL, "\\x00") if NUL in text else text


def compute_unstorable(cp: ClusterPlan) -> str | None:
    """Why the rows an upgrade of ``cp`` writes (its run member, its steps) cannot be stored; None if they can."""
    why = unstorable_field("run_clusters", {"cluster_id": cp.id, "provider": cp.provider,
                                            "wave": cp.wave or "default", "target": cp.target})
    for s in cp.steps:
        if why is not None:
            break
        why = unstorable_field("steps", {"step_key": s.key, "pool": s.pool, "from_version": s.from_,
                                         "to_version": s.to})
    return None if why is None else f"cannot be stored ({why})"


def refused_reason(exc: UnstorableValueError) -> str:
    return f"cannot be stored ({exc.field}: {exc.reason})"


class StorableFilter:
    """Blocks the clusters of a plan whose rows cannot be stored; logs each such cluster once."""

    def __init__(self) -> None:
        self._logged: set[str] = set()

    def compute_storable_plan(self, plan: Plan) -> Plan:
        """``plan`` with every cluster to upgrade that cannot be stored turned ``blocked`` (the reason first)."""
        blocked = {}
        for cp in plan.clusters:
            why = compute_unstorable(cp) if cp.status == "needs-upgrade" else None
            if why is not None:
                blocked[cp.id] = replace(cp, status="blocked", steps=[], reasons=[why, *cp.reasons])
                self._log_once(cp.id, why)
        if blocked:
            plan.clusters = [blocked.get(cp.id, cp) for cp in plan.clusters]
        return plan

    def _log_once(self, cluster_id: str, why: str) -> None:
        if cluster_id in self._logged:
            return
        self._logged.add(cluster_id)
        shown = printable(cluster_id)
        log.warning("cluster blocked: its rows cannot be stored",
                    extra={"cluster": shown[:ID_PREVIEW] + ("..." if len(shown) > ID_PREVIEW else ""),
                           "reason": why})
