"""Holds (issue #23): stop new steps of one run, or of one cluster in any run, with a reason - finer than the
fleet-wide pause. In-flight operations finish; a released hold lets the engine go on at its next tick.

Each hold is its own row of the store's control table, ``hold:run:<sha256 of the id>`` or
``hold:cluster:<sha256 of the id>`` (ids can be longer than a key), valued ``{"kind", "target", "reason",
"by", "at"}``. So holding is one upsert and releasing one conditional DELETE, each in the transaction that
writes its audit event: concurrent holders on other targets never overwrite each other, and of concurrent
releasers of one hold exactly one releases it (and writes the ``released`` event); the others are told there
was none. (Holds written before this layout, all in one ``holds`` value, are still read and released.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fleet.clock import iso
from fleet.errors import NotFoundError
from fleet.state.base import Store

Kind = Literal["run", "cluster"]
_PREFIX = "hold:"
_LEGACY = "holds"


@dataclass(frozen=True)
class Holds:
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "clusters": self.clusters}


def hold_key(kind: Kind, target: str) -> str:
    return f"{_PREFIX}{kind}:{hashlib.sha256(target.encode()).hexdigest()}"


def read_holds(store: Store) -> Holds:
    legacy = store.get_control(_LEGACY, None) or {}
    held = Holds(dict(legacy.get("runs", {})), dict(legacy.get("clusters", {})))
    for v in store.controls(_PREFIX).values():
        if isinstance(v, dict) and v.get("kind") in ("run", "cluster"):
            (held.runs if v["kind"] == "run" else held.clusters)[v["target"]] = {
                "reason": v.get("reason", ""), "by": v.get("by", ""), "at": v.get("at", "")}
    return held


def _check_target(store: Store, kind: Kind, target: str) -> None:
    if kind == "run" and store.run(target) is None:
        raise NotFoundError(f"no run {target}")


def set_hold(store: Store, now: datetime, kind: Kind, target: str, reason: str, actor: str) -> None:
    """Hold a run or a cluster (the reason is required); holding again replaces the reason."""
    if not reason.strip():
        raise ValueError("a hold needs a reason")
    _check_target(store, kind, target)
    why = reason.strip()[:500]
    with store.write("hold") as conn:
        store.set_control(conn, hold_key(kind, target),
                          {"kind": kind, "target": target, "reason": why, "by": actor, "at": iso(now)})
        store.add_event(conn, now, "held", actor=actor, run_id=target if kind == "run" else None,
                        cluster_id=target if kind == "cluster" else None, message=why)


def release_hold(store: Store, now: datetime, kind: Kind, target: str, actor: str) -> bool:
    """Release a hold; False when there was none (nothing is written)."""
    with store.write("release") as conn:
        done = store.delete_control(conn, hold_key(kind, target))
        legacy = store.get_control(_LEGACY, None) or {}
        if target in legacy.get(f"{kind}s", {}):      # a hold from before the one-row-per-hold layout
            legacy[f"{kind}s"].pop(target)
            store.set_control(conn, _LEGACY, legacy)
            done = True
        if not done:
            return False
        store.add_event(conn, now, "released", actor=actor, run_id=target if kind == "run" else None,
                        cluster_id=target if kind == "cluster" else None)
    return True
