"""'A cluster entering the risk list': the report module hands over transitions or the whole list."""

from __future__ import annotations

from datetime import timedelta

from fleet.notify import risk
from fleet.state.store import SqlStore as Store
from tests.notify.conftest import START, endpoint, wait_cursor
from tests.notify.receiver import Receiver


def _wait_risk_list(store, want: list[str]) -> None:
    import time
    for _ in range(600):
        if store.get_control(risk.RISK_LIST_KEY) == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"risk list is {store.get_control(risk.RISK_LIST_KEY)}, want {want}")


def test_without_a_running_notifier_nothing_is_queued():
    assert risk.notify_risk("eks/x/a", "forecast after end of support", START) is False
    assert risk.notify_risk_list({"eks/x/a": "late"}, START) is False


def test_notify_risk_is_delivered_as_cluster_at_risk(store, clock, notifiers):
    with Receiver() as rx:
        n = notifiers(store, [endpoint(rx.url, events=("cluster-at-risk",))], clock)
        n.start()
        assert risk.notify_risk("eks/eu/a", "forecast 2026-09-01 is after end of support 2026-07-28", START)
        rx.wait_until(lambda r: len(r.requests) == 1)
    body = rx.requests[0].json()
    assert body["kind"] == "cluster-at-risk" and body["cluster"] == "eks/eu/a" and body["actor"] == "reports"
    assert body["message"] == "forecast 2026-09-01 is after end of support 2026-07-28"
    assert body["summary"].startswith("Cluster eks/eu/a entered the risk list")
    assert store.get_control(risk.RISK_LIST_KEY) == ["eks/eu/a"]


def test_risk_list_announces_only_clusters_entering_it(store_url, clock, notifiers):
    store = Store(store_url)
    with Receiver() as rx:
        n = notifiers(store, [endpoint(rx.url, events=("cluster-at-risk",))], clock)
        n.start()
        t = START
        assert risk.notify_risk_list({"a": "late", "b": "late"}, t)
        _wait_risk_list(store, ["a", "b"])
        risk.notify_risk_list({"a": "late", "b": "later"}, t + timedelta(hours=1))    # nothing new
        risk.notify_risk_list({"b": "late"}, t + timedelta(hours=2))                   # a leaves
        _wait_risk_list(store, ["b"])
        risk.notify_risk_list({"a": "late again", "b": "late"}, t + timedelta(hours=3))  # a comes back
        _wait_risk_list(store, ["a", "b"])
        last = store.events(kind="cluster-at-risk")[-1]["id"]
        wait_cursor(store, "hook", last)
        n.stop()
        store.close()
    got = [(r.json()["cluster"], r.json()["message"]) for r in rx.requests]
    assert got == [("a", "late"), ("b", "late"), ("a", "late again")]


def test_compute_risk_entries():
    got = risk.compute_risk_entries(["a", "gone"], {"c": "r3", "a": "r1", "b": "r2"}, START)
    assert got == [risk.RiskTransition("b", "r2", START), risk.RiskTransition("c", "r3", START)]


def test_compute_risk_change():
    one = risk.RiskTransition("a", "late", START)
    assert risk.compute_risk_change(one, ["a", "b"]) == risk.RiskListChange(["a", "b"], [one])   # always announced
    whole = risk.RiskList({"c": "r3", "b": "r2"}, START)
    assert risk.compute_risk_change(whole, ["a", "b"]) == risk.RiskListChange(
        ["b", "c"], [risk.RiskTransition("c", "r3", START)])                                       # replaces the list
    shard = risk.RiskList({"c2": "late"}, START, owns=lambda c: c.endswith("2"))
    assert risk.compute_risk_change(shard, ["a1", "b2"]) == risk.RiskListChange(
        ["a1", "c2"], [risk.RiskTransition("c2", "late", START)])                                  # a1: another shard's
