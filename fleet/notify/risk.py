"""'A cluster entered the risk list' notifications, fed by the report module.

The report module (which computes the risk list: clusters whose forecast completion falls after their end
of support) calls one of:

- ``notify_risk(cluster_id, reason, at)`` — one transition it has already worked out;
- ``notify_risk_transitions(iterable of RiskTransition)`` — several;
- ``notify_risk_list({cluster_id: reason}, at)`` — the whole current list; fleet works out which clusters
  are new on it against the list it stored last time (``control`` key ``notify.risk-list``), so a cluster
  is announced once when it enters, and again only after it has left and come back.

Each call only puts an item on the running notifier's bounded queue and returns at once (False when no
notifier runs in this process, e.g. under ``fleet report``, or the queue is full). The notifier's
background thread records each entering cluster as a ``cluster-at-risk`` event in the events table, from
where it is delivered like every other event (durably, at least once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from fleet.state import schema as S
from fleet.state.store import Store

RISK_KIND = "cluster-at-risk"
RISK_LIST_KEY = "notify.risk-list"
RISK_ACTOR = "reports"


@dataclass(frozen=True)
class RiskTransition:
    """A cluster entering the risk list."""

    cluster_id: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class RiskList:
    """The whole current risk list (cluster id -> reason)."""

    clusters: Mapping[str, str] = field(default_factory=dict)
    at: datetime | None = None


class RiskSink(Protocol):
    def enqueue_risk(self, item: RiskTransition | RiskList) -> bool: ...


_LOCK = threading.Lock()
_SINKS: list[RiskSink] = []


def bind(sink: RiskSink) -> None:
    with _LOCK:
        if sink not in _SINKS:
            _SINKS.append(sink)


def unbind(sink: RiskSink) -> None:
    with _LOCK:
        if sink in _SINKS:
            _SINKS.remove(sink)


def _enqueue(item: RiskTransition | RiskList) -> bool:
    with _LOCK:
        sinks = list(_SINKS)
    ok = False
    for s in sinks:
        ok = s.enqueue_risk(item) or ok
    return ok


def notify_risk(cluster_id: str, reason: str, at: datetime) -> bool:
    """Announce that ``cluster_id`` entered the risk list (never blocks)."""
    return _enqueue(RiskTransition(cluster_id, reason, at))


def notify_risk_transitions(transitions: Iterable[RiskTransition]) -> int:
    return sum(1 for t in transitions if _enqueue(t))


def notify_risk_list(clusters: Mapping[str, str], at: datetime) -> bool:
    """Hand over the current risk list; only clusters new on it are announced (never blocks)."""
    return _enqueue(RiskList(dict(clusters), at))


def compute_risk_entries(previous: Iterable[str], current: Mapping[str, str], at: datetime) -> list[RiskTransition]:
    before = set(previous)
    return [RiskTransition(cid, reason, at) for cid, reason in sorted(current.items()) if cid not in before]


def record_risk(store: Store, item: RiskTransition | RiskList) -> list[RiskTransition]:
    """Write ``cluster-at-risk`` events (and the stored list) for ``item``; returns the transitions written."""
    with store.write("risk list") as conn:
        stored = list(conn.execute(select(S.control.c.value).where(S.control.c.key == RISK_LIST_KEY)).scalar() or [])
        if isinstance(item, RiskTransition):
            entering = [item]
            listed = sorted(set(stored) | {item.cluster_id})
        else:
            at = item.at
            if at is None:
                raise ValueError("RiskList needs its time")
            entering = compute_risk_entries(stored, item.clusters, at)
            listed = sorted(item.clusters)
        for t in entering:
            store.add_event(conn, t.at, RISK_KIND, actor=RISK_ACTOR, cluster_id=t.cluster_id, message=t.reason,
                            data={"reason": t.reason})
        if listed != stored:
            store.set_control(conn, RISK_LIST_KEY, listed)
    return entering
