"""The risk list: which clusters are at risk (control row ``notify.risk-list``), and the ``cluster-at-risk``
events written when clusters enter it.

``apply_risk_list(compute)`` is one transaction: read the stored list, ask the pure ``compute`` (given that
list) for the new list and the clusters it announces, write one event per announced cluster and the new
list. :class:`SqlRisks` reads the list inside the SQL transaction; :class:`MemoryRisks` under the memory
store's write lock (which ``write()`` holds), so both see the list they replace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select

from fleet.state import schema as S
from fleet.state.values import unstorable_field

log = logging.getLogger("fleet.state")

RISK_LIST_KEY = "notify.risk-list"
RISK_KIND = "cluster-at-risk"
RISK_ACTOR = "reports"


@dataclass(frozen=True)
class RiskEntry:
    """A cluster entering the risk list: why, and when."""

    cluster_id: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class RiskListChange:
    """What ``compute`` decided: the list to store (sorted cluster ids) and the clusters to announce."""

    listed: list[str]
    entering: list[RiskEntry]


ComputeRisks = Callable[[Sequence[str]], RiskListChange]


class _Journal(Protocol):
    def write(self, what: str = ...) -> AbstractContextManager[Any]: ...

    def get_control(self, key: str, default: Any = None) -> Any: ...

    def set_control(self, conn: Any, key: str, value: Any) -> None: ...

    def add_event(self, conn: Any, at: datetime, kind: str, *, actor: str = ..., run_id: str | None = ...,
                  cluster_id: str | None = ..., step_key: str | None = ..., operation_id: str | None = ...,
                  message: str = ..., data: dict[str, Any] | None = ...) -> None: ...


def compute_storable_change(change: RiskListChange) -> RiskListChange:
    """``change`` without the clusters whose id the events table cannot hold (a NUL, too long): one odd
    cluster id never fails the whole list (#22); each is logged by its column and reason, never its value."""
    bad = {c for c in [*change.listed, *(e.cluster_id for e in change.entering)]
           if unstorable_field("events", {"cluster_id": c}) is not None}
    if not bad:
        return change
    for c in sorted(bad):
        log.warning("risk list: a cluster id cannot be stored, left out",
                    extra={"reason": unstorable_field("events", {"cluster_id": c}), "idPrefix": repr(c[:40])})
    return RiskListChange([c for c in change.listed if c not in bad],
                          [e for e in change.entering if e.cluster_id not in bad])


def _write_change(store: _Journal, conn: Any, stored: list[str], change: RiskListChange) -> list[RiskEntry]:
    change = compute_storable_change(change)
    for e in change.entering:
        store.add_event(conn, e.at, RISK_KIND, actor=RISK_ACTOR, cluster_id=e.cluster_id, message=e.reason,
                        data={"reason": e.reason})
    if change.listed != stored:
        store.set_control(conn, RISK_LIST_KEY, change.listed)
    return change.entering


class SqlRisks:
    """The risk list on the SQL store (a mixin of fleet.state.store's store)."""

    def risk_list(self: _Journal) -> list[str]:
        return list(self.get_control(RISK_LIST_KEY) or [])

    def apply_risk_list(self: _Journal, compute: ComputeRisks) -> list[RiskEntry]:
        with self.write("risk list") as conn:
            q = select(S.control.c.value).where(S.control.c.key == RISK_LIST_KEY)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()     # shards on one database update the one list: no lost update
            stored = list(conn.execute(q).scalar() or [])
            return _write_change(self, conn, stored, compute(stored))


class MemoryRisks:
    """The risk list on the memory store (a mixin of fleet.state.memory.MemoryStore)."""

    def risk_list(self: _Journal) -> list[str]:
        return list(self.get_control(RISK_LIST_KEY) or [])

    def apply_risk_list(self: _Journal, compute: ComputeRisks) -> list[RiskEntry]:
        with self.write("risk list") as tx:
            stored = list(self.get_control(RISK_LIST_KEY) or [])   # write() holds the store's lock
            return _write_change(self, tx, stored, compute(stored))
