"""'A cluster entered the risk list' notifications.

The daemon computes the risk list after each reconcile (fleet.daemon.risks, with the report's risk rule,
fleet.reports.compliance.compute_risk) and hands it to its notifier (``Notifier.enqueue_risk(RiskList)``).
Other code in the process running a notifier can call one of:

- ``notify_risk(cluster_id, reason, at)`` — one transition it has already worked out;
- ``notify_risk_transitions(iterable of RiskTransition)`` — several;
- ``notify_risk_list({cluster_id: reason}, at)`` — the whole current list; fleet works out which clusters
  are new on it against the list it stored last time (``control`` key ``notify.risk-list``), so a cluster
  is announced once when it enters, and again only after it has left and come back.

Each call only puts an item on the running notifier's bounded queue and returns at once (False when no
notifier runs in this process, e.g. under ``fleet report``, or the queue is full). The notifier's
background thread records each entering cluster as a ``cluster-at-risk`` event in the events table, from
where it is delivered like every other event (durably, at least once). The stored list and the events are
written by the store (fleet.state.risks) in one transaction; what enters is decided here
(``compute_risk_change``, pure).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from fleet.state.risks import RISK_ACTOR, RISK_KIND, RISK_LIST_KEY, RiskEntry, RiskListChange
from fleet.state.store import Store

__all__ = ["RISK_ACTOR", "RISK_KIND", "RISK_LIST_KEY", "RiskList", "RiskListChange", "RiskSink", "RiskTransition", "bind",
           "compute_risk_change", "compute_risk_entries", "notify_risk", "notify_risk_list",
           "notify_risk_transitions", "record_risk", "unbind"]

RiskTransition = RiskEntry
"""A cluster entering the risk list (the store's record, fleet.state.risks.RiskEntry)."""


@dataclass(frozen=True)
class RiskList:
    """The whole current risk list (cluster id -> reason). ``owns``, when given, says which clusters the list
    speaks for (a shard's daemon: the clusters it owns); stored entries outside it are kept as they are."""

    clusters: Mapping[str, str] = field(default_factory=dict)
    at: datetime | None = None
    owns: Callable[[str], bool] | None = None


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


def compute_risk_change(item: RiskTransition | RiskList, stored: Sequence[str]) -> RiskListChange:
    """Pure: the list to store and the clusters to announce, given the stored list. A single transition is
    always announced and added; a whole list announces only the clusters new on it, and replaces the list."""
    if isinstance(item, RiskTransition):
        return RiskListChange(sorted(set(stored) | {item.cluster_id}), [item])
    if item.at is None:
        raise ValueError("RiskList needs its time")
    kept = {c for c in stored if item.owns is not None and not item.owns(c)}
    return RiskListChange(sorted(kept | set(item.clusters)), compute_risk_entries(stored, item.clusters, item.at))


def record_risk(store: Store, item: RiskTransition | RiskList) -> list[RiskTransition]:
    """Write ``cluster-at-risk`` events (and the stored list) for ``item``; returns the transitions written."""
    return store.apply_risk_list(lambda stored: compute_risk_change(item, stored))
