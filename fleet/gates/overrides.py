"""Operators' overrides: ``fleet override CLUSTER --gate NAME --until TIME --reason TEXT`` (and the API).

An override makes exactly the named gate pass for that cluster (journaled as ``overridden``, with who and
why) until it expires or is revoked; an expired override is ignored. Overrides are audited: the row keeps
actor, reason and creation time, and an ``gate-override`` / ``gate-override-revoked`` event is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from fleet.errors import NotFoundError
from fleet.state.base import Store
from fleet.state.gates import GateOverride


def active_override(overrides: Iterable[GateOverride], cluster_id: str, gate: str,
                    now: datetime) -> GateOverride | None:
    """The active override of ``gate`` for the cluster that lasts longest (None: none is active)."""
    best = None
    for o in overrides:
        if o.cluster_id == cluster_id and o.gate == gate and o.active(now):
            if best is None or o.until > best.until:
                best = o
    return best


def create_override(store: Store, now: datetime, actor: str, cluster_id: str, gate: str, until: datetime,
                    reason: str) -> GateOverride:
    """Record an override; ValueError for one that would already be expired or has no reason."""
    if until <= now:
        raise ValueError(f"--until {until.isoformat()} is not in the future")
    if not reason.strip():
        raise ValueError("--reason is required: say why the gate may be passed")
    with store.write("gate override") as conn:
        oid = store.insert_gate_override(conn, cluster_id=cluster_id, gate=gate, until=until, reason=reason,
                                         actor=actor, created_at=now)
        store.add_event(conn, now, "gate-override", actor=actor, cluster_id=cluster_id,
                        message=f"gate {gate} overridden until {until.isoformat()}: {reason}",
                        data={"override": oid, "gate": gate, "until": until.isoformat(), "reason": reason})
    return GateOverride(oid, cluster_id, gate, until, reason, actor, now)


def revoke_override(store: Store, now: datetime, actor: str, override_id: int) -> GateOverride:
    found = [o for o in store.gate_overrides() if o.id == override_id]
    if not found:
        raise NotFoundError(f"no override {override_id}")
    o = found[0]
    if o.revoked_at is not None:
        return o
    with store.write("gate override revoked") as conn:
        store.update_gate_override(conn, override_id, revoked_at=now, revoked_by=actor)
        store.add_event(conn, now, "gate-override-revoked", actor=actor, cluster_id=o.cluster_id,
                        message=f"override {override_id} of gate {o.gate} revoked",
                        data={"override": override_id, "gate": o.gate})
    return GateOverride(o.id, o.cluster_id, o.gate, o.until, o.reason, o.actor, o.created_at, now, actor)
