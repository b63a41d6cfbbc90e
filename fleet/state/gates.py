"""Safety gates in the state store: every gate evaluation (``gate_evaluations``) and the operators' overrides
(``gate_overrides``). fleet.gates decides; the engine's journal and the override commands write through here.

:class:`SqlGates` is a mixin of the SQL store, :class:`MemoryGates` of the memory store; both implement the
same methods with the same semantics (a write stages inside ``with store.write()`` and commits with it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from fleet.clock import utc
from fleet.state import schema as S
from fleet.state.values import check_row


def rfc3339(t: datetime) -> str:
    """RFC 3339 in UTC with ``Z`` (sub-seconds kept), as every instant in JSON and the API."""
    return utc(t).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class GateEvaluation:
    """One evaluation of one gate for one cluster (result: pass | fail | error | overridden)."""
    id: int
    at: datetime
    cluster_id: str
    gate: str
    gate_type: str
    phase: str                      # preflight | post-step
    result: str
    reason: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    step_id: int | None = None
    step_key: str | None = None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> GateEvaluation:
        return cls(id=int(r["id"]), at=utc(r["at"]), cluster_id=r["cluster_id"], gate=r["gate"],
                   gate_type=r["gate_type"], phase=r["phase"], result=r["result"], reason=r.get("reason") or "",
                   evidence=dict(r.get("evidence") or {}), run_id=r.get("run_id"), step_id=r.get("step_id"),
                   step_key=r.get("step_key"))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": rfc3339(self.at), "cluster": self.cluster_id, "gate": self.gate,
                "type": self.gate_type, "phase": self.phase, "result": self.result, "reason": self.reason,
                "evidence": dict(self.evidence), "run": self.run_id, "step": self.step_key}


@dataclass(frozen=True, slots=True)
class GateOverride:
    """An operator's override: the named gate passes for the cluster until ``until`` (unless revoked)."""
    id: int
    cluster_id: str
    gate: str
    until: datetime
    reason: str
    actor: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.until

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> GateOverride:
        rev = r.get("revoked_at")
        return cls(id=int(r["id"]), cluster_id=r["cluster_id"], gate=r["gate"], until=utc(r["until"]),
                   reason=r["reason"], actor=r["actor"], created_at=utc(r["created_at"]),
                   revoked_at=None if rev is None else utc(rev), revoked_by=r.get("revoked_by"))

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "cluster": self.cluster_id, "gate": self.gate,
                             "until": rfc3339(self.until), "reason": self.reason, "actor": self.actor,
                             "createdAt": rfc3339(self.created_at),
                             "revokedAt": rfc3339(self.revoked_at) if self.revoked_at else None,
                             "revokedBy": self.revoked_by}
        if now is not None:
            d["active"] = self.active(now)
        return d


def _eval_row(values: Mapping[str, Any]) -> dict[str, Any]:
    row = {"reason": "", **values}
    check_row(S.gate_evaluations, row)
    return row


class SqlGates:
    """Gate evaluations and overrides on the SQL store (a mixin of fleet.state.store.SqlStore)."""

    read: Callable[[], Any]

    def add_gate_evaluation(self, conn: Any, **values: Any) -> None:
        self.add_gate_evaluations(conn, [values])

    def add_gate_evaluations(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Many rows in one statement (executemany): an engine tick journals thousands."""
        if rows:
            conn.execute(insert(S.gate_evaluations), [_eval_row(r) for r in rows])

    def gate_evaluations(self, *, cluster_id: str | None = None, run_id: str | None = None,
                         step_id: int | None = None, after_id: int = 0, limit: int = 1000) -> list[GateEvaluation]:
        """Oldest first."""
        t = S.gate_evaluations
        q = select(t).where(t.c.id > after_id)
        if cluster_id is not None:
            q = q.where(t.c.cluster_id == cluster_id)
        if run_id is not None:
            q = q.where(t.c.run_id == run_id)
        if step_id is not None:
            q = q.where(t.c.step_id == step_id)
        with self.read() as conn:
            return [GateEvaluation.from_row(r._mapping) for r in conn.execute(q.order_by(t.c.id).limit(limit))]

    def latest_gate_evaluations(self) -> dict[tuple[str, str], GateEvaluation]:
        """(cluster id, gate) -> its latest evaluation."""
        t = S.gate_evaluations
        latest = select(func.max(t.c.id)).group_by(t.c.cluster_id, t.c.gate).scalar_subquery()
        with self.read() as conn:
            rows = conn.execute(select(t).where(t.c.id.in_(latest)))
            return {(r.cluster_id, r.gate): GateEvaluation.from_row(r._mapping) for r in rows}

    def insert_gate_override(self, conn: Any, **values: Any) -> int:
        check_row(S.gate_overrides, values)
        key = conn.execute(insert(S.gate_overrides).values(**values)).inserted_primary_key
        assert key is not None, "an INSERT returns its primary key"
        return int(key[0])

    def update_gate_override(self, conn: Any, override_id: int, **values: Any) -> None:
        check_row(S.gate_overrides, values)
        conn.execute(update(S.gate_overrides).where(S.gate_overrides.c.id == override_id).values(**values))

    def gate_overrides(self, *, cluster_id: str | None = None) -> list[GateOverride]:
        """Every override (active, expired and revoked), oldest first."""
        t = S.gate_overrides
        q = select(t)
        if cluster_id is not None:
            q = q.where(t.c.cluster_id == cluster_id)
        with self.read() as conn:
            return [GateOverride.from_row(r._mapping) for r in conn.execute(q.order_by(t.c.id))]


class MemoryGates:
    """The same on the memory store (a mixin of fleet.state.memory.MemoryStore)."""

    _lock: threading.RLock

    def _gate_tables(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if not hasattr(self, "_gate_evals"):
            self._gate_evals: list[dict[str, Any]] = []
            self._gate_ovr: list[dict[str, Any]] = []
            self._gate_by_cluster: dict[str, list[dict[str, Any]]] = {}
            self._gate_latest: dict[tuple[str, str], dict[str, Any]] = {}
            self._gate_by_step: dict[int, list[dict[str, Any]]] = {}
        return self._gate_evals, self._gate_ovr

    def add_gate_evaluations(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.add_gate_evaluation(conn, **r)

    def add_gate_evaluation(self, conn: Any, **values: Any) -> None:
        row = _eval_row(values)
        row["evidence"] = json.loads(json.dumps(row.get("evidence")))   # JSON-serialisable, as in SQL
        evals, _ = self._gate_tables()

        def apply() -> None:
            r = {"id": len(evals) + 1, **row}
            evals.append(r)
            self._gate_by_cluster.setdefault(r["cluster_id"], []).append(r)
            self._gate_latest[(r["cluster_id"], r["gate"])] = r
            if r.get("step_id") is not None:
                self._gate_by_step.setdefault(r["step_id"], []).append(r)
        conn.ops.append(apply)

    def latest_gate_evaluations(self) -> dict[tuple[str, str], GateEvaluation]:
        self._gate_tables()
        with self._lock:
            return {k: GateEvaluation.from_row(r) for k, r in self._gate_latest.items()}

    def gate_evaluations(self, *, cluster_id: str | None = None, run_id: str | None = None,
                         step_id: int | None = None, after_id: int = 0, limit: int = 1000) -> list[GateEvaluation]:
        evals, _ = self._gate_tables()
        if step_id is not None:
            rows = self._gate_by_step.get(step_id, [])
        else:
            rows = evals if cluster_id is None else self._gate_by_cluster.get(cluster_id, [])
        out = []
        with self._lock:
            for r in rows:
                if r["id"] <= after_id:
                    continue
                if (cluster_id is not None and r["cluster_id"] != cluster_id) \
                        or (run_id is not None and r.get("run_id") != run_id) \
                        or (step_id is not None and r.get("step_id") != step_id):
                    continue
                out.append(GateEvaluation.from_row(r))
                if len(out) >= limit:
                    break
        return out

    def insert_gate_override(self, conn: Any, **values: Any) -> int:
        check_row(S.gate_overrides, values)
        _, ovr = self._gate_tables()
        with self._lock:
            new_id = len(ovr) + 1 + sum(1 for op in conn.ops if getattr(op, "override_insert", False))
        row = {"revoked_at": None, "revoked_by": None, **values, "id": new_id}

        def apply() -> None:
            ovr.append(row)
        apply.override_insert = True  # type: ignore[attr-defined]
        conn.ops.append(apply)
        return new_id

    def update_gate_override(self, conn: Any, override_id: int, **values: Any) -> None:
        check_row(S.gate_overrides, values)
        _, ovr = self._gate_tables()

        def apply() -> None:
            for r in ovr:
                if r["id"] == override_id:
                    r.update(values)
        conn.ops.append(apply)

    def gate_overrides(self, *, cluster_id: str | None = None) -> list[GateOverride]:
        _, ovr = self._gate_tables()
        with self._lock:
            return [GateOverride.from_row(r) for r in ovr if cluster_id is None or r["cluster_id"] == cluster_id]
