"""Holds (issue #23): stop new steps of one run, or of one cluster in any run, with a reason - finer than the
fleet-wide pause. In-flight operations finish; a released hold lets the engine go on at its next tick.

Kept in the store's control table under ``holds`` as ``{"runs": {id: entry}, "clusters": {id: entry}}`` with
``entry = {"reason", "by", "at"}``; every hold and release is an event in the audit log naming the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fleet.clock import iso
from fleet.errors import NotFoundError
from fleet.state.base import Store

Kind = Literal["run", "cluster"]
_KEY = "holds"


@dataclass(frozen=True)
class Holds:
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "clusters": self.clusters}


def read_holds(store: Store) -> Holds:
    raw = store.get_control(_KEY, None) or {}
    return Holds(dict(raw.get("runs", {})), dict(raw.get("clusters", {})))


def _check_target(store: Store, kind: Kind, target: str) -> None:
    if kind == "run" and store.run(target) is None:
        raise NotFoundError(f"no run {target}")


def set_hold(store: Store, now: datetime, kind: Kind, target: str, reason: str, actor: str) -> None:
    """Hold a run or a cluster (the reason is required); holding again replaces the reason."""
    if not reason.strip():
        raise ValueError("a hold needs a reason")
    _check_target(store, kind, target)
    with store.write("hold") as conn:
        cur = read_holds(store).to_dict()
        cur[f"{kind}s"][target] = {"reason": reason.strip()[:500], "by": actor, "at": iso(now)}
        store.set_control(conn, _KEY, cur)
        store.add_event(conn, now, "held", actor=actor, run_id=target if kind == "run" else None,
                        cluster_id=target if kind == "cluster" else None, message=reason.strip()[:500])


def release_hold(store: Store, now: datetime, kind: Kind, target: str, actor: str) -> bool:
    """Release a hold; False when there was none (nothing is written)."""
    with store.write("release") as conn:
        cur = read_holds(store).to_dict()
        if cur[f"{kind}s"].pop(target, None) is None:
            return False
        store.set_control(conn, _KEY, cur)
        store.add_event(conn, now, "released", actor=actor, run_id=target if kind == "run" else None,
                        cluster_id=target if kind == "cluster" else None)
    return True
