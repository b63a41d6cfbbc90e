"""Where each webhook endpoint is in the events table: the id of the last event it has dealt with.

The cursor lives in the store (fleet.state.cursors: ``control`` row ``notify.cursor.<endpoint name>``); it only moves
past an event once that event was delivered (or dropped for good), so a restart resends at most the event
that was in flight (at-least-once). A new endpoint starts at the newest event: history is not replayed.

Ids are assigned when a writer inserts, but become visible when it commits. Inside one process the store
serialises writes, so ids appear in order; with several writers (PostgreSQL) a higher id can show up
before a lower one commits. ``compute_safe_upto`` therefore stops at a gap and only steps over it once the
gap has stood for a grace period (a rolled-back insert leaves a gap forever).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from fleet.state.cursors import CURSOR_PREFIX, cursor_key
from fleet.state.store import SqlStore as Store

__all__ = ["CURSOR_PREFIX", "GAP_GRACE", "Gap", "compute_safe_upto", "cursor_key", "mark_cursor", "observe_cursor",
           "observe_last_event_id", "reconcile_cursor"]

GAP_GRACE = timedelta(seconds=2)


def observe_last_event_id(store: Store) -> int:
    return store.last_event_id()


def observe_cursor(store: Store, endpoint: str) -> int | None:
    return store.notify_cursor(endpoint)


def mark_cursor(store: Store, endpoint: str, event_id: int) -> None:
    store.set_notify_cursor(endpoint, event_id)


def reconcile_cursor(store: Store, endpoint: str) -> int:
    """The stored cursor; for a new endpoint, the newest event id (stored at once)."""
    current = observe_cursor(store, endpoint)
    if current is None:
        current = observe_last_event_id(store)
        mark_cursor(store, endpoint, current)
    return current


Gap = tuple[int, datetime]   # (the missing event id, when it was first found missing)


def compute_safe_upto(cursor: int, ids: Sequence[int], gap: Gap | None, now: datetime,
                      grace: timedelta = GAP_GRACE) -> tuple[int, Gap | None]:
    """How far (an event id) the cursor may advance over the ascending ``ids`` read after it.

    Returns ``(upto, gap)``: ``upto`` is the last id before the first missing id still inside its grace, and
    ``gap`` that missing id with the time it was first seen missing (None when nothing is missing)."""
    upto = cursor
    for i in ids:
        if i == upto + 1:
            upto = i
            continue
        missing = upto + 1
        if gap is None or gap[0] != missing:
            return upto, (missing, now)
        if now - gap[1] < grace:
            return upto, gap
        upto, gap = i, None   # missing for the whole grace: a rolled-back insert, step over it
    return upto, None
