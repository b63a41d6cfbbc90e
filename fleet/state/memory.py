"""MemoryStore: the state store's engine-facing interface kept in process memory.

Used where state is thrown away at the end — ``fleet forecast`` runs the real engine over a year of virtual
time, and a SQL round trip per transition would dominate it. It has the same semantics as the SQL store for
everything the engine and the read-side (status, reports) use, and the engine test-suite runs against both:

* a ``write()`` is a transaction: its changes are staged and applied together when the block ends without
  an exception (nothing is applied otherwise), then ``after_commit`` runs;
* reads return immutable records (events: fresh dicts), ordered as the SQL store orders them; JSON columns
  are kept as JSON text and parsed when a record is built (so a value that could not be stored in SQL fails
  here too, and tuples become lists); a record is built once and reused until a write changes its row;
* step and event ids are allocated increasingly from 1.

Not supported: leases and fencing (a memory store has exactly one writer: its process), and durability.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Table

from fleet.clock import utc
from fleet.errors import StateError
from fleet.execution.model import ACTIVE_RUN_STATUSES, OPEN_STEP_STATES, Member, Run, StepRecord
from fleet.state import schema as S
from fleet.state.cursors import Cursors
from fleet.state.gates import MemoryGates
from fleet.state.leases import MemoryLeases
from fleet.state.risks import MemoryRisks
from fleet.state.values import check_row

ACTIVE_STEP_STATES = frozenset(s.value for s in OPEN_STEP_STATES)
ACTIVE_RUNS = frozenset(s.value for s in ACTIVE_RUN_STATUSES)


def _defaults(table: Table) -> dict[str, Any]:
    """The column defaults the SQL store would fill in (None for nullable columns without one)."""
    # the schema's defaults are all scalars (ColumnDefault.arg), never callables or SQL expressions
    return {c.name: (cast(Any, c.default).arg if c.default is not None else None) for c in table.columns
            if not c.primary_key and (c.default is not None or c.nullable)}


# the same tables as the SQL store: its JSON columns and column defaults (kept in one place: fleet.state.schema)
_JSON = {c.name for t in (S.runs, S.run_clusters, S.steps, S.events) for c in t.columns
         if isinstance(c.type, JSON)} - {"policy_snapshot"}
_RUN_DEFAULTS, _RC_DEFAULTS, _STEP_DEFAULTS = _defaults(S.runs), _defaults(S.run_clusters), _defaults(S.steps)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """A row as stored: JSON columns as JSON text (read back into fresh objects, as from SQL), except the
    policy snapshot, the largest value, which is stored parsed and shared read-only (nothing mutates one)."""
    out = {}
    for k, v in values.items():
        if k == "policy_snapshot":
            v = json.loads(json.dumps(v))
        elif k in _JSON and v is not None:
            text = json.dumps(v)
            if isinstance(v, list | tuple) and all(type(x) in _SCALARS for x in v):
                v = _FlatList(json.loads(text))     # flat: a shallow copy on read is a full copy
            elif isinstance(v, dict) and all(type(x) in _SCALARS for x in v.values()):
                v = _FlatDict(json.loads(text))
            else:
                v = _Json(text)
        elif isinstance(v, datetime):
            v = utc(v)
        out[k] = v
    return out


class _Json(str):
    """A stored JSON value (distinguishes JSON text from a string column)."""

    __slots__ = ()


class _FlatList(list):
    """A stored JSON array of scalars."""


class _FlatDict(dict):
    """A stored JSON object of scalars."""


_SCALARS = (str, int, float, bool, type(None))


class _Tx:
    """The staged changes of one write transaction (passed where the SQL store passes a Connection)."""

    def __init__(self) -> None:
        self.ops: list[Callable[[], None]] = []


class MemoryStore(MemoryLeases, Cursors, MemoryRisks, MemoryGates):
    """The in-process implementation of fleet.state.base.Store."""

    url = "memory://"

    def __init__(self, url: str = "memory://", *, migrate: bool = True):
        self.fence: tuple[str, int] | None = None      # accepted for interface parity; nothing to fence
        self.after_commit: Callable[[str], None] | None = None
        self._lock = threading.RLock()
        self._runs: dict[str, dict[str, Any]] = {}
        self._members: dict[str, dict[str, dict[str, Any]]] = {}      # run id -> cluster id -> row
        self._member_order: dict[str, list[dict[str, Any]]] = {}      # run id -> rows by (wave_index, cluster_id)
        # records are immutable: each is built once, and dropped when a write changes its row
        self._member_records: dict[str, list[Member]] = {}            # run id -> its members
        self._run_records: dict[str, Run] = {}
        self._step_records: dict[int, StepRecord] = {}
        self._steps: dict[int, dict[str, Any]] = {}
        self._open: dict[str, dict[int, dict[str, Any]]] = {}         # run id -> open steps by id
        self._events: list[dict[str, Any]] = []
        self._control: dict[str, Any] = {}
        self._step_seq = 0

    # ---- schema (nothing to migrate) ------------------------------------------------------------------
    def migrate(self) -> None:
        return None

    def schema_version(self) -> str | None:
        return None

    def close(self) -> None:
        return None

    # ---- transactions -------------------------------------------------------------------------------
    @contextmanager
    def write(self, what: str = "write") -> Iterator[_Tx]:
        with self._lock:
            tx = _Tx()
            yield tx
            for op in tx.ops:
                op()
        if self.after_commit is not None:
            self.after_commit(what)

    # ---- write operations (same names and arguments as the SQL store's) ----------------------------------
    def add_event(self, conn: _Tx, at: datetime, kind: str, *, actor: str = "engine", run_id: str | None = None,
                  cluster_id: str | None = None, step_key: str | None = None, operation_id: str | None = None,
                  message: str = "", data: dict[str, Any] | None = None) -> None:
        row = _clean({"at": at, "actor": actor, "kind": kind, "run_id": run_id, "cluster_id": cluster_id,
                      "step_key": step_key, "operation_id": operation_id, "message": message, "data": data})
        check_row(S.events, row)

        def apply() -> None:
            self._events.append({"id": len(self._events) + 1, **row})
        conn.ops.append(apply)

    def set_control(self, conn: _Tx, key: str, value: Any) -> None:
        value = _Json(json.dumps(value))
        conn.ops.append(lambda: self._control.__setitem__(key, value))

    def delete_control(self, conn: _Tx, key: str) -> bool:
        # the store's lock is held for the whole transaction: what is staged here is what commit applies
        if key not in self._control or any(getattr(op, "deletes", None) == key for op in conn.ops):
            return False

        def apply() -> None:
            self._control.pop(key, None)
        apply.deletes = key  # type: ignore[attr-defined]
        conn.ops.append(apply)
        return True

    def insert_run(self, conn: _Tx, **values: Any) -> None:
        check_row(S.runs, values)
        row = {**_RUN_DEFAULTS, **_clean(values)}
        if row["id"] in self._runs:       # checked when staged, so that applying never fails half-way
            raise StateError(f"state store write failed: run {row['id']} exists")

        def apply() -> None:
            self._runs[row["id"]] = row
            self._members.setdefault(row["id"], {})
            self._member_order.setdefault(row["id"], [])
        conn.ops.append(apply)

    def insert_run_clusters(self, conn: _Tx, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            check_row(S.run_clusters, r)
        clean = [{**_RC_DEFAULTS, **_clean(r)} for r in rows]
        keys = [(r["run_id"], r["cluster_id"]) for r in clean]
        if len(set(keys)) < len(keys) or any(c in self._members.get(r, {}) for r, c in keys):
            raise StateError("state store write failed: a run member is listed twice")

        def apply() -> None:
            for r in clean:
                self._members.setdefault(r["run_id"], {})[r["cluster_id"]] = r
            for run_id in {r["run_id"] for r in clean}:
                self._member_order[run_id] = sorted(self._members[run_id].values(),
                                                    key=lambda m: (m["wave_index"], m["cluster_id"]))
                self._member_records.pop(run_id, None)
        conn.ops.append(apply)

    def update_run(self, conn: _Tx, run_id: str, **values: Any) -> None:
        check_row(S.runs, values)
        clean = _clean(values)

        def apply() -> None:
            if run_id in self._runs:
                self._runs[run_id].update(clean)
                self._run_records.pop(run_id, None)
        conn.ops.append(apply)

    def update_run_cluster(self, conn: _Tx, run_id: str, cluster_id: str, **values: Any) -> None:
        check_row(S.run_clusters, values, cluster_id=cluster_id)
        clean = _clean(values)

        def apply() -> None:
            row = self._members.get(run_id, {}).get(cluster_id)
            if row is not None:
                row.update(clean)
                self._member_records.pop(run_id, None)
        conn.ops.append(apply)

    def insert_step(self, conn: _Tx, **values: Any) -> int:
        check_row(S.steps, values)
        self._step_seq += 1
        row = {**_STEP_DEFAULTS, **_clean(values), "id": self._step_seq}

        def apply() -> None:
            self._steps[row["id"]] = row
            if row["state"] in ACTIVE_STEP_STATES:
                self._open.setdefault(row["run_id"], {})[row["id"]] = row
        conn.ops.append(apply)
        return row["id"]

    def update_step(self, conn: _Tx, step_id: int, **values: Any) -> None:
        check_row(S.steps, values)
        clean = _clean(values)

        def apply() -> None:
            row = self._steps.get(step_id)
            if row is None:
                return
            row.update(clean)
            self._step_records.pop(step_id, None)
            if row["state"] not in ACTIVE_STEP_STATES:
                self._open.get(row["run_id"], {}).pop(step_id, None)
        conn.ops.append(apply)

    # ---- reads --------------------------------------------------------------------------------------
    def events(self, *, cluster_id: str | None = None, run_id: str | None = None, kind: str | None = None,
               limit: int = 1000, after_id: int = 0) -> list[dict[str, Any]]:
        out = []
        with self._lock:
            for e in self._events[after_id:]:
                if (cluster_id and e["cluster_id"] != cluster_id) or (run_id and e["run_id"] != run_id) \
                        or (kind and e["kind"] != kind):
                    continue
                out.append(_copy(e))
                if len(out) >= limit:
                    break
        return out

    def last_event_id(self) -> int:
        return len(self._events)

    def get_control(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return json.loads(self._control[key]) if key in self._control else default

    def controls(self, prefix: str) -> dict[str, Any]:
        with self._lock:
            return {k: json.loads(v) for k, v in self._control.items() if k.startswith(prefix)}

    def runs(self, *, active_only: bool = False, policy: str | None = None) -> list[Run]:
        with self._lock:
            rows = [r for r in self._runs.values()
                    if (not active_only or r["status"] in ACTIVE_RUNS) and (not policy or r["policy"] == policy)]
            return [self._run_record(r) for r in sorted(rows, key=_run_order)]

    def run(self, run_id: str) -> Run | None:
        with self._lock:
            r = self._runs.get(run_id)
            return self._run_record(r) if r is not None else None

    def _run_record(self, row: dict[str, Any]) -> Run:
        rec = self._run_records.get(row["id"])
        if rec is None:
            rec = self._run_records[row["id"]] = Run.from_row(_copy(row))
        return rec

    def members(self, run_id: str | None = None) -> list[Member]:
        with self._lock:
            if run_id is not None:
                records = self._member_records.get(run_id)
                if records is None:      # records are immutable: built once per change of the run's members
                    records = [Member.from_row(r) for r in self._member_order.get(run_id, ())]
                    self._member_records[run_id] = records
                return list(records)
            rows = [r for order in self._member_order.values() for r in order]
            return [Member.from_row(r) for r in sorted(rows, key=lambda m: (m["wave_index"], m["cluster_id"]))]

    def latest_memberships(self) -> dict[str, Member]:
        with self._lock:
            out: dict[str, Member] = {}
            for run in sorted(self._runs.values(), key=_run_order):     # the newest run's row wins
                for r in self._member_order.get(run["id"], ()):
                    out[r["cluster_id"]] = Member.from_row(r)
            return out

    def steps(self, *, run_id: str | None = None, cluster_id: str | None = None,
              open_only: bool = False) -> list[StepRecord]:
        with self._lock:
            if run_id is not None and open_only:
                rows = list(self._open.get(run_id, {}).values())
            else:
                rows = [s for s in self._steps.values()
                        if (run_id is None or s["run_id"] == run_id)
                        and (not open_only or s["state"] in ACTIVE_STEP_STATES)]
            rows = [s for s in rows if cluster_id is None or s["cluster_id"] == cluster_id]
            return [self._step_record(s) for s in sorted(rows, key=lambda s: s["id"])]

    def _step_record(self, row: dict[str, Any]) -> StepRecord:
        rec = self._step_records.get(row["id"])
        if rec is None:
            rec = self._step_records[row["id"]] = StepRecord.from_row(_copy(row))
        return rec

    def next_actions(self, run_id: str) -> list[datetime]:
        with self._lock:
            return [s["next_action_at"] for s in self._open.get(run_id, {}).values() if s["next_action_at"] is not None]

    def step_count(self) -> int:
        return len(self._steps)


def _run_order(row: dict[str, Any]) -> tuple[datetime, str]:
    return row["created_at"], row["id"]


def _copy(row: dict[str, Any]) -> dict[str, Any]:
    """A fresh row, like a SQL read: mutating it (or its JSON values) never changes the store."""
    out = dict(row)
    for k, v in out.items():
        t = type(v)
        if t is _Json:
            out[k] = json.loads(v)
        elif t is _FlatList:
            out[k] = list(v)
        elif t is _FlatDict:
            out[k] = dict(v)
    return out
