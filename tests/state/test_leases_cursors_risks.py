"""The store's lease compare-and-set, notification cursors and risk list (fleet.state.leases, .cursors,
.risks), on every store: SQLite and PostgreSQL, and the memory store where it has them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from fleet.errors import StateError
from fleet.state import open_store
from fleet.state.leases import LeaseClaim
from fleet.state.risks import RISK_KIND, RISK_LIST_KEY, RiskEntry, RiskListChange

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = timedelta(seconds=15)


@pytest.fixture
def store(state_url):
    s = open_store(state_url)
    yield s
    s.close()


@pytest.fixture
def sql_store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def test_lease_acquire_renew_take_over_release(sql_store):
    s = sql_store
    assert s.lease("l") is None
    assert s.acquire_lease("l", "A", T0, D) == LeaseClaim(1, None)                        # new row: epoch 1
    assert s.acquire_lease("l", "A", T0 + timedelta(seconds=5), D) == LeaseClaim(1, "A")   # renewed
    assert s.acquire_lease("l", "B", T0 + timedelta(seconds=19), D) == LeaseClaim(None, "A")  # not expired yet
    row = s.lease("l")
    assert (row.holder, row.epoch, row.expires_at) == ("A", 1, T0 + timedelta(seconds=20))
    assert s.acquire_lease("l", "B", T0 + timedelta(seconds=20), D) == LeaseClaim(2, "A")  # expired: taken over
    assert s.acquire_lease("l", "A", T0 + timedelta(seconds=21), D) == LeaseClaim(None, "B")
    s.release_lease("l", "B", 1, T0 + timedelta(seconds=22))                               # stale epoch: no-op
    assert s.lease("l").expires_at == T0 + timedelta(seconds=35)
    s.release_lease("l", "B", 2, T0 + timedelta(seconds=22))
    assert s.lease("l").expires_at == T0 + timedelta(seconds=22)
    assert s.acquire_lease("l", "A", T0 + timedelta(seconds=22), D) == LeaseClaim(3, "B")  # released: at once


def test_raise_lease_only_ever_raises_the_epoch(sql_store):
    s = sql_store
    assert s.raise_lease("k", "A", 0, T0, D) is None                 # no row: written
    assert (s.lease("k").holder, s.lease("k").epoch) == ("A", 0)
    assert s.raise_lease("k", "A", 0, T0 + D, D) is None             # same epoch, same holder: renewed
    assert s.raise_lease("k", "B", 0, T0 + D, D) == 0                # same epoch, another holder: refused
    assert s.raise_lease("k", "B", 3, T0 + D, D) is None             # higher: taken
    assert s.raise_lease("k", "A", 2, T0 + D, D) == 3                # lower: refused, the row's epoch returned
    assert (s.lease("k").holder, s.lease("k").epoch) == ("B", 3)


def test_memory_store_has_no_leases():
    s = open_store("memory://")
    for call in (lambda: s.lease("l"), lambda: s.acquire_lease("l", "A", T0, D),
                 lambda: s.release_lease("l", "A", 1, T0), lambda: s.raise_lease("l", "A", 1, T0, D)):
        with pytest.raises(StateError, match="leases need a SQL state store"):
            call()


def test_notify_cursors(store):
    assert store.notify_cursor("hook") is None
    store.set_notify_cursor("hook", 7)
    store.set_notify_cursor("other", 3)
    store.set_notify_cursor("hook", 9)
    assert (store.notify_cursor("hook"), store.notify_cursor("other")) == (9, 3)
    assert store.get_control("notify.cursor.hook") == 9


def _enter(current: dict[str, str], at: datetime):
    def compute(stored: Sequence[str]) -> RiskListChange:
        entering = [RiskEntry(c, r, at) for c, r in sorted(current.items()) if c not in stored]
        return RiskListChange(sorted(current), entering)
    return compute


def test_risk_list_and_its_events(store):
    assert store.risk_list() == []
    assert store.apply_risk_list(_enter({"b": "late", "a": "later"}, T0)) == [RiskEntry("a", "later", T0),
                                                                               RiskEntry("b", "late", T0)]
    assert store.apply_risk_list(_enter({"b": "still late"}, T0 + D)) == []
    assert store.risk_list() == ["b"] and store.get_control(RISK_LIST_KEY) == ["b"]
    assert store.apply_risk_list(_enter({"a": "back", "b": "late"}, T0 + 2 * D)) == [RiskEntry("a", "back", T0 + 2 * D)]
    got = [(e["cluster_id"], e["message"], e["actor"], e["data"], e["at"]) for e in store.events(kind=RISK_KIND)]
    assert got == [("a", "later", "reports", {"reason": "later"}, T0), ("b", "late", "reports", {"reason": "late"}, T0),
                   ("a", "back", "reports", {"reason": "back"}, T0 + 2 * D)]


def test_a_failing_risk_computation_writes_nothing(store):
    def boom(stored: Sequence[str]) -> RiskListChange:
        raise ValueError("no time")

    with pytest.raises(ValueError):
        store.apply_risk_list(boom)
    assert store.risk_list() == [] and store.events(kind=RISK_KIND) == []
