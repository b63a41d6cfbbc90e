"""The state store interface: what the SQL store (fleet.state.store.SqlStore) and the in-process store
(fleet.state.memory.MemoryStore) both implement, and what the rest of fleet may rely on.

Reads return typed records (fleet.execution.model: Run, Member, StepRecord; events are still plain dicts).
Writes happen inside ``with store.write(what) as tx:`` and take that transaction handle as their first
argument; every block commits as a whole or not at all, then ``after_commit(what)`` runs. In fleet.execution
only the journal (fleet.execution.journal) calls the write methods.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from fleet.execution.model import Member, Run, StepRecord
from fleet.state.gates import GateEvaluation, GateOverride
from fleet.state.leases import LeaseClaim, LeaseRecord
from fleet.state.risks import ComputeRisks, RiskEntry


class Store(Protocol):
    url: str
    fence: tuple[str, int] | None
    after_commit: Callable[[str], None] | None

    # ---- lifecycle ------------------------------------------------------------------------------------
    def migrate(self) -> None: ...

    def schema_version(self) -> str | None: ...

    def close(self) -> None: ...

    # ---- writes (inside ``with store.write() as tx``) ---------------------------------------------------
    def write(self, what: str = "write") -> AbstractContextManager[Any]: ...

    def add_event(self, conn: Any, at: datetime, kind: str, *, actor: str = "engine", run_id: str | None = None,
                  cluster_id: str | None = None, step_key: str | None = None, operation_id: str | None = None,
                  message: str = "", data: dict[str, Any] | None = None) -> None: ...

    def set_control(self, conn: Any, key: str, value: Any) -> None: ...

    def delete_control(self, conn: Any, key: str) -> bool:
        """Delete the key in one statement; True when this transaction deleted it (False: it was not there,
        or a concurrent writer deleted it first)."""
        ...

    def insert_run(self, conn: Any, **values: Any) -> None: ...

    def insert_run_clusters(self, conn: Any, rows: list[dict[str, Any]]) -> None: ...

    def update_run(self, conn: Any, run_id: str, **values: Any) -> None: ...

    def update_run_cluster(self, conn: Any, run_id: str, cluster_id: str, **values: Any) -> None: ...

    def insert_step(self, conn: Any, **values: Any) -> int: ...

    def update_step(self, conn: Any, step_id: int, **values: Any) -> None: ...

    # ---- reads ----------------------------------------------------------------------------------------
    def events(self, *, cluster_id: str | None = None, run_id: str | None = None, kind: str | None = None,
               limit: int = 1000, after_id: int = 0) -> list[dict[str, Any]]: ...

    def last_event_id(self) -> int: ...

    def get_control(self, key: str, default: Any = None) -> Any: ...

    def controls(self, prefix: str) -> dict[str, Any]:
        """Every control key starting with ``prefix``, with its value."""
        ...

    def runs(self, *, active_only: bool = False, policy: str | None = None) -> list[Run]:
        """Oldest first (by created_at, then id)."""
        ...

    def run(self, run_id: str) -> Run | None: ...

    def members(self, run_id: str | None = None) -> list[Member]:
        """Run members by (wave_index, cluster_id); of one run, or of every run."""
        ...

    def latest_memberships(self) -> dict[str, Member]:
        """Cluster id -> its membership in the most recently created run that has it (by the run's
        created_at, then its id)."""
        ...

    def steps(self, *, run_id: str | None = None, cluster_id: str | None = None,
              open_only: bool = False) -> list[StepRecord]:
        """By id (the order they were journaled)."""
        ...

    def next_actions(self, run_id: str) -> list[datetime]:
        """When the run's open steps next need the engine (their ``next_action_at``, where set)."""
        ...

    def step_count(self) -> int: ...

    # ---- leases (fleet.state.leases), notification cursors (fleet.state.cursors), risk list (fleet.state.risks)
    def lease(self, name: str) -> LeaseRecord | None: ...

    def acquire_lease(self, name: str, holder: str, now: datetime, duration: timedelta) -> LeaseClaim: ...

    def release_lease(self, name: str, holder: str, epoch: int, now: datetime) -> None: ...

    def raise_lease(self, name: str, holder: str, epoch: int, now: datetime, duration: timedelta) -> int | None: ...

    def notify_cursor(self, endpoint: str) -> int | None: ...

    def set_notify_cursor(self, endpoint: str, event_id: int) -> None: ...

    def risk_list(self) -> list[str]: ...

    def apply_risk_list(self, compute: ComputeRisks) -> list[RiskEntry]: ...

    # ---- safety gates (fleet.state.gates): evaluations and overrides -----------------------------------
    def add_gate_evaluation(self, conn: Any, **values: Any) -> None: ...

    def add_gate_evaluations(self, conn: Any, rows: list[dict[str, Any]]) -> None: ...

    def gate_evaluations(self, *, cluster_id: str | None = None, run_id: str | None = None,
                         step_id: int | None = None, after_id: int = 0, limit: int = 1000) -> list[GateEvaluation]:
        """Oldest first."""
        ...

    def latest_gate_evaluations(self) -> dict[tuple[str, str], GateEvaluation]:
        """(cluster id, gate name) -> its latest evaluation."""
        ...

    def insert_gate_override(self, conn: Any, **values: Any) -> int: ...

    def update_gate_override(self, conn: Any, override_id: int, **values: Any) -> None: ...

    def gate_overrides(self, *, cluster_id: str | None = None) -> list[GateOverride]:
        """Every override (active, expired, revoked), oldest first."""
        ...
