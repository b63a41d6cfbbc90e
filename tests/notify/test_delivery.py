"""Deliveries against a real HTTP receiver on 127.0.0.1: signatures, Slack shape, retries in virtual time."""

from __future__ import annotations

import socket
from datetime import timedelta

from fleet.notify.cursor import observe_cursor
from fleet.notify.retry import RetryPolicy
from tests.notify.conftest import SECRET, add_event, endpoint, wait_cursor
from tests.notify.receiver import Receiver, verify


def test_signed_json_is_verifiable_and_only_subscribed_kinds_are_sent(store, clock, notifiers):
    with Receiver(clock=clock.now) as rx:
        n = notifiers(store, [endpoint(rx.url, events=("run-started", "cluster-upgraded"))], clock)
        n.start()
        a = add_event(store, "run-started", message="policy all: 2 clusters")
        add_event(store, "step-dispatched", cluster_id="sim/lab/c0")
        add_event(store, "wave-done")                          # a kind this endpoint did not subscribe to
        b = add_event(store, "cluster-upgraded", cluster_id="sim/lab/c0", message="at 1.30.4")
        last = add_event(store, "step-succeeded", cluster_id="sim/lab/c0")
        n.poke()
        wait_cursor(store, "hook", last)
        n.stop()
    got = rx.requests
    assert [r.json()["id"] for r in got] == [a, b]
    assert [r.headers["x-fleet-event"] for r in got] == ["run-started", "cluster-upgraded"]
    assert [r.headers["x-fleet-delivery"] for r in got] == [str(a), str(b)]
    for r in got:
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-fleet-signature"].startswith("sha256=")
        assert verify(SECRET, r.headers, r.body)
        assert not verify(SECRET, r.headers, r.body[:-1] + b" }")          # any change to the body fails
        assert not verify("another-secret", r.headers, r.body)
        assert int(r.headers["x-fleet-timestamp"]) == int(clock.now().timestamp())
    body = got[1].json()
    assert body["kind"] == "cluster-upgraded" and body["cluster"] == "sim/lab/c0" and body["run"] == "r1"
    assert body["fleet"] == "test" and body["at"] == "2026-01-05T09:00:00Z"
    assert body["summary"] == "Cluster sim/lab/c0 upgraded: at 1.30.4"
    assert observe_cursor(store, "hook") == last   # the cursor also passes events nobody subscribed to


def test_slack_format_shape(store, clock, notifiers):
    with Receiver() as rx:
        n = notifiers(store, [endpoint(rx.url, fmt="slack", secret=None)], clock)
        n.start()
        add_event(store, "cluster-failed", cluster_id="eks/eu-west-1/a<b>&c", message="health gate: <unhealthy>")
        n.poke()
        rx.wait_until(lambda r: len(r.requests) == 1)
    r = rx.requests[0]
    p = r.json()
    assert set(p) == {"text", "blocks"}
    assert p["text"] == "[test] Cluster eks/eu-west-1/a<b>&c failed in run r1: health gate: <unhealthy>"
    assert [b["type"] for b in p["blocks"]] == ["section", "section", "context"]
    head = p["blocks"][0]["text"]
    assert head["type"] == "mrkdwn" and "*Cluster failed*" in head["text"]
    assert "a&lt;b&gt;&amp;c" in head["text"] and "<" not in head["text"]
    fields = [f["text"] for f in p["blocks"][1]["fields"]]
    assert fields == ["*Run:*\n`r1`", "*Cluster:*\n`eks/eu-west-1/a&lt;b&gt;&amp;c`"]
    assert p["blocks"][2]["elements"][0]["type"] == "mrkdwn"
    assert "x-fleet-signature" not in r.headers and "x-fleet-timestamp" in r.headers


def test_5xx_is_retried_with_exponential_backoff_in_virtual_time(store, clock, notifiers):
    with Receiver([(500, {}), (502, {}), (503, {})], clock=clock.now) as rx:
        n = notifiers(store, [endpoint(rx.url)], clock,
                      retry=RetryPolicy(base=timedelta(seconds=2), max_attempts=5, jitter=lambda: 0.5))
        n.start()
        ev = add_event(store, "run-halted", message="2 failures reached maxFailures=2")
        n.poke()
        wait_cursor(store, "hook", ev)
    got = rx.requests
    assert [r.status for r in got] == [500, 502, 503, 200]
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(got, got[1:], strict=False)]
    # base 2s doubling, each scaled by the jitter factor 0.5 + 0.5 * 0.5
    assert gaps == [1.5, 3.0, 6.0]
    assert len({r.body for r in got}) == 1                 # same body every time, signed again each time
    assert all(verify(SECRET, r.headers, r.body) for r in got)
    assert n.stats()["hook"].retries == 3 and n.stats()["hook"].delivered == 1


def test_429_retry_after_is_honoured(store, clock, notifiers):
    with Receiver([(429, {"Retry-After": "7"}), (503, {"Retry-After": "Mon, 05 Jan 2026 09:01:00 GMT"})],
                  clock=clock.now) as rx:
        n = notifiers(store, [endpoint(rx.url)], clock)
        n.start()
        add_event(store, "run-started")
        n.poke()
        rx.wait_until(lambda r: len(r.delivered()) == 1)
    got = rx.requests
    assert [r.status for r in got] == [429, 503, 200]
    assert (got[1].at - got[0].at).total_seconds() == 7
    assert got[2].at.isoformat() == "2026-01-05T09:01:00+00:00"   # waited until the HTTP date


def test_4xx_is_dropped_without_retry_and_the_next_event_still_goes(store, clock, notifiers):
    with Receiver([(400, {})]) as rx:
        n = notifiers(store, [endpoint(rx.url)], clock)
        n.start()
        bad = add_event(store, "run-started")
        good = add_event(store, "run-done")
        n.poke()
        wait_cursor(store, "hook", good)
    assert [(r.json()["id"], r.status) for r in rx.requests] == [(bad, 400), (good, 200)]
    assert n.stats()["hook"].dropped == 1 and n.stats()["hook"].retries == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_errors_are_retried_then_given_up(store, clock, notifiers):
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    n = notifiers(store, [endpoint(url)], clock, retry=RetryPolicy(max_attempts=3, jitter=lambda: 1.0))
    t0 = clock.now()
    n.start()
    ev = add_event(store, "cluster-failed", cluster_id="c")
    n.poke()
    wait_cursor(store, "hook", ev)
    st = n.stats()["hook"]
    assert observe_cursor(store, "hook") == ev
    assert (st.attempts, st.retries, st.dropped, st.delivered) == (3, 2, 1, 0)
    assert clock.now() - t0 == timedelta(seconds=1 + 2)   # virtual waits: 1s, then 2s


def test_endpoints_are_independent_a_hanging_one_delays_only_itself(store, clock, notifiers):
    import threading
    hold = threading.Event()
    with Receiver(hold=hold) as slow, Receiver() as fast:
        n = notifiers(store, [endpoint(slow.url, name="slow", timeout=60), endpoint(fast.url, name="fast")], clock)
        n.start()
        ids = [add_event(store, "cluster-upgraded", cluster_id=f"c{i}") for i in range(3)]
        n.poke()
        fast.wait_until(lambda r: len(r.requests) == 3)
        slow.wait_until(lambda r: r.in_flight == 1)
        assert slow.requests == []
        hold.set()
        slow.wait_until(lambda r: len(r.requests) == 3)
    assert [r.json()["id"] for r in slow.requests] == ids == [r.json()["id"] for r in fast.requests]
