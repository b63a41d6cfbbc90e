"""The cursor in the control table: restarts lose nothing and repeat nothing that was acknowledged."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from fleet.notify.cursor import compute_safe_upto, observe_cursor
from fleet.state.store import SqlStore as Store
from tests.notify.conftest import START, add_event, endpoint, wait_cursor
from tests.notify.receiver import Receiver


def test_restart_resumes_at_the_cursor_without_loss_or_repeats(store_url, clock, notifiers):
    url = store_url
    store = Store(url)
    old = add_event(store, "run-started", run_id="before")      # history before the first start: not replayed
    with Receiver() as rx:
        a = notifiers(store, [endpoint(rx.url)], clock)
        a.start()
        assert observe_cursor(store, "hook") == old
        e1 = add_event(store, "run-started", run_id="r1")
        e2 = add_event(store, "cluster-upgraded", run_id="r1", cluster_id="c0")
        a.poke()
        wait_cursor(store, "hook", e2)
        a.stop()
        store.close()
        # while "down": the engine (another store handle) keeps writing
        other = Store(url)
        e3 = add_event(other, "cluster-upgraded", run_id="r1", cluster_id="c1")
        e4 = add_event(other, "run-done", run_id="r1")
        other.close()
        # a new process: new store handle, new notifier
        store2 = Store(url)
        b = notifiers(store2, [endpoint(rx.url)], clock)
        b.start()
        e5 = add_event(store2, "run-started", run_id="r2")
        b.poke()
        wait_cursor(store2, "hook", e5)
        b.stop()
        store2.close()
    assert [r.json()["id"] for r in rx.requests] == [e1, e2, e3, e4, e5]


def test_an_event_in_flight_at_stop_is_sent_again_after_restart(store, clock, notifiers):
    hold = threading.Event()
    with Receiver([(503, {}), (503, {})], hold=hold) as rx:
        a = notifiers(store, [endpoint(rx.url)], clock)
        a.start()
        ev = add_event(store, "cluster-failed", cluster_id="c0", message="boom")
        a.poke()
        rx.wait_until(lambda r: r.in_flight == 1)
        stopper = threading.Thread(target=a.stop, kwargs={"timeout": 30})
        stopper.start()                      # stop while the first attempt hangs at the receiver
        assert a.stopping.wait(30)
        hold.set()                           # the receiver answers 503; the worker sees stop and keeps the cursor
        stopper.join(30)
        assert observe_cursor(store, "hook") == ev - 1
        assert [r.status for r in rx.requests] == [503]
        b = notifiers(store, [endpoint(rx.url)], clock)
        b.start()
        wait_cursor(store, "hook", ev)
    assert [r.status for r in rx.requests] == [503, 503, 200]
    assert {r.json()["id"] for r in rx.requests} == {ev}


def test_a_delivered_event_is_not_sent_again_when_the_cursor_was_written(store, clock, notifiers):
    with Receiver() as rx:
        a = notifiers(store, [endpoint(rx.url)], clock)
        a.start()
        ev = add_event(store, "run-halted")
        a.poke()
        wait_cursor(store, "hook", ev)
        a.stop()
        b = notifiers(store, [endpoint(rx.url)], clock)
        b.start()
        nxt = add_event(store, "run-done")
        b.poke()
        wait_cursor(store, "hook", nxt)
    assert [r.json()["id"] for r in rx.requests] == [ev, nxt]


def test_a_new_endpoint_starts_at_the_newest_event_and_keeps_its_own_cursor(store, clock, notifiers):
    with Receiver() as rx:
        a = notifiers(store, [endpoint(rx.url, name="one")], clock)
        a.start()
        first = add_event(store, "run-started")
        a.poke()
        wait_cursor(store, "one", first)
        a.stop()
        b = notifiers(store, [endpoint(rx.url, name="one"), endpoint(rx.url, name="two")], clock)
        b.start()
        assert observe_cursor(store, "two") == first
        second = add_event(store, "run-done")
        b.poke()
        wait_cursor(store, "one", second)
        wait_cursor(store, "two", second)
    assert sorted(r.json()["id"] for r in rx.requests) == [first, second, second]


G = timedelta(seconds=2)
T = START


@pytest.mark.parametrize("cursor, ids, gap, now, want", [
    (0, [], None, T, (0, None)),
    (0, [1, 2, 3], None, T, (3, None)),
    (5, [6, 8, 9], None, T, (6, (7, T))),                          # 7 missing: stop before it, note when
    (6, [8, 9], (7, T), T + G / 2, (6, (7, T))),                     # still inside the grace
    (6, [7, 8, 9], (7, T), T + G / 2, (9, None)),                    # 7 committed late: carry on
    (6, [8, 9], (7, T), T + G, (9, None)),                           # missing for the whole grace: step over
    (6, [8, 9, 11], (7, T), T + G, (9, (10, T + G))),                # a second gap gets its own grace
    (6, [9], (8, T), T + 3 * G, (6, (7, T + 3 * G))),                # a different gap than the one noted
    (0, [4], None, T, (0, (1, T))),
])
def test_compute_safe_upto(cursor, ids, gap, now, want):
    assert compute_safe_upto(cursor, ids, gap, now, G) == want
