"""Budgets per item (issue #23): within a reconcile, a run past its own budget (``reconcileItemBudget``) is
abandoned alone at a safe point, logged with what it was doing, and the rest of the tick goes on; a cluster
whose plan overruns its own budget is ``unknown`` with the reason while the others are planned; forecasts
and reports are bounded in time and iterations with an error naming what they were doing.

The slow run is real: its clusters live in a second simulated cloud whose API calls take real time (the
sim's latency goes through the clock, and this clock sleeps for real)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from fleet import budget
from fleet.budget import Budget, BudgetExceeded
from fleet.clock import FakeClock
from fleet.daemon.service import Daemon
from fleet.runtime import build_runtime
from tests.execution.helpers import START

SLOW_CALL_S = 0.6


class RealLatencyClock(FakeClock):
    """Virtual time; a sleep of SLOW_CALL_S (the slow cloud's latency) also takes that long for real."""

    def sleep(self, seconds: float) -> None:
        if seconds == SLOW_CALL_S:
            time.sleep(seconds)
        super().sleep(seconds)


INVENTORY = """apiVersion: fleet.dev/v1alpha1
kind: Inventory
offers:
  eks: ["1.28.3", "1.29.8", "1.30.4"]
clusters:
{clusters}
"""
POLICY = """apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata: {{name: {name}}}
spec:
  selector: {{providers: [{provider}]}}
  target: {{version: "1.30"}}
  rollout: {{maxConcurrentClusters: {slots}, maxFailures: 2}}
"""
CONFIG = """apiVersion: fleet.dev/v1alpha1
kind: FleetConfig
metadata: {name: test}
spec:
  providers:
    - {name: slow, type: sim, settings: {inventory: slow.yaml}}
    - {name: fast, type: sim, settings: {inventory: fast.yaml}}
  policies: policies
  state: {url: "sqlite:///state.db", create: true}
  reconcileInterval: 1s
  reconcileBudget: 60s
  reconcileItemBudget: 1s
  http: {listen: "127.0.0.1:0", tokenFile: token}
"""


def _fleet(d: Path, slow: int = 3) -> Path:
    (d / "policies").mkdir()
    for name, count in (("slow", slow), ("fast", 3)):
        clusters = "\n".join(f"  - {{provider: eks, location: lab, name: {name}{i}, controlPlane: \"1.28.3\", "
                             f"nodePools: [{{name: ng, version: \"1.28.3\", nodes: 1}}]}}" for i in range(count))
        (d / f"{name}.yaml").write_text(INVENTORY.format(clusters=clusters))
    # "a-slow" sorts first: its run is reconciled before the fast one's
    (d / "policies" / "slow.yaml").write_text(POLICY.format(name="a-slow", provider="slow", slots=slow))
    (d / "policies" / "fast.yaml").write_text(POLICY.format(name="b-fast", provider="fast", slots=3))
    (d / "token").write_text("t0ken-for-the-budget-test-0123456789\n")
    cfg = d / "fleet.yaml"
    cfg.write_text(CONFIG)
    return cfg


def test_a_slow_run_is_abandoned_alone_and_the_rest_of_the_tick_goes_on(tmp_path: Path, caplog):
    clock = RealLatencyClock(START)
    daemon = Daemon(build_runtime(_fleet(tmp_path), clock), clock)
    try:
        assert daemon.tick() is not None                          # both runs start; every cluster dispatched
        runs = {r.policy: r for r in daemon.store.runs()}
        assert set(runs) == {"a-slow", "b-fast"}
        daemon.engine.providers["slow"].world.faults.latency_s = SLOW_CALL_S
        before = {p: len(daemon.store.events(run_id=r.id, kind="step-dispatched", limit=1000)) for p, r in runs.items()}
        caplog.set_level(logging.ERROR, logger="fleet.engine")
        ticks = 0
        while not daemon.engine.over_budget:       # the slow run's polls overrun its 1s: abandoned for the tick
            clock.advance(timedelta(minutes=30))
            res = daemon.tick()
            assert res is not None, "the tick itself must not be abandoned"
            ticks += 1
            assert ticks < 10
        [why] = daemon.engine.over_budget
        assert f"run {runs['a-slow'].id} (policy a-slow) exceeded its budget of 1s while settling the open step of " \
               "eks/lab/slow" in why, why
        assert any(why in r.getMessage() or why == getattr(r, "reason", None) for r in caplog.records)
        assert daemon.metrics.registry.get_sample_value("fleet_reconcile_items_over_budget_total") >= 1
        assert daemon.metrics.registry.get_sample_value("fleet_reconcile_abandoned_total") == 0
        # the fast run, reconciled after the slow one in the same ticks, goes on while the slow one overruns
        over = 1
        for _ in range(6):
            clock.advance(timedelta(minutes=30))
            assert daemon.tick() is not None
            over += len(daemon.engine.over_budget)
            if len(daemon.store.events(run_id=runs["b-fast"].id, kind="step-dispatched", limit=1000)) \
                    > before["b-fast"]:
                break
        else:
            raise AssertionError("the fast run made no progress beside the slow one")
        assert over >= 2 and daemon.ready()[0]
        # the cloud is fast again: the slow run goes on too
        daemon.engine.providers["slow"].world.faults.latency_s = 0.0
        for _ in range(20):
            clock.advance(timedelta(minutes=30))
            daemon.tick()
        assert {r.policy: r.status.value for r in daemon.store.runs()} == {"a-slow": "done", "b-fast": "done"}
    finally:
        daemon.stop()



def test_a_run_abandoned_past_its_budget_resumes_where_it_stopped(tmp_path: Path):
    """The slow run overruns its budget every tick; it does not stop at the same member every time (the
    members behind it would never be polled): the next tick starts with the member it stopped at."""
    clock = RealLatencyClock(START)
    daemon = Daemon(build_runtime(_fleet(tmp_path, slow=8), clock), clock)
    try:
        assert daemon.tick() is not None
        run = next(r for r in daemon.store.runs() if r.policy == "a-slow")

        def polls() -> dict[str, int]:
            out: dict[str, int] = {}
            for s in daemon.store.steps(run_id=run.id):
                out[s.cluster_id] = out.get(s.cluster_id, 0) + s.polls
            return out

        daemon.engine.providers["slow"].world.faults.latency_s = SLOW_CALL_S
        before, stopped_at = polls(), []
        for _ in range(4):
            clock.advance(timedelta(minutes=30))
            assert daemon.tick() is not None
            stopped = [w.rsplit(" ", 1)[-1] for w in daemon.engine.over_budget if "a-slow" in w]
            if stopped:      # the next tick starts with the member this one stopped at
                assert daemon.engine._resume_at[run.id] == stopped[0]
                assert [m.cluster_id for m in daemon.engine._in_turn(daemon.engine._observe_run(run))][0] == stopped[0]
            else:
                assert run.id not in daemon.engine._resume_at
            stopped_at += stopped
        after = polls()
        assert len(stopped_at) >= 2 and len(set(stopped_at)) >= 2, stopped_at     # not the same member each tick
        # about two members fit in the 1s budget per tick: in four ticks all eight were polled (before, the
        # tick started with the same first members every time and the last ones were never reached)
        assert all(after.get(c, 0) > before.get(c, 0) for c in (f"eks/lab/slow{i}" for i in range(8))), (before, after)
    finally:
        daemon.stop()

def test_item_budgets_nest_and_the_enclosing_budget_still_wins():
    with Budget(60, "reconcile", item_seconds=0.05) as outer:
        with budget.item("run A") as a:
            time.sleep(0.08)
            budget.check("settling", "c1")
            raise AssertionError("not reached")
        assert a.exceeded is not None and "run A exceeded its budget of 0.05s while settling c1" in str(a.exceeded)
        with budget.item("run B") as b:
            budget.check("settling", "c2")
        assert b.exceeded is None
        outer.cancel("the daemon is stopping")
        with pytest.raises(BudgetExceeded, match="reconcile abandoned .the daemon is stopping. while settling c3"):
            with budget.item("run C"):
                budget.check("settling", "c3")
    with budget.item("no enclosing budget") as c:     # nothing bounds it: a no-op
        time.sleep(0.01)
        budget.check("anything")
    assert c.exceeded is None


def test_a_cluster_whose_plan_overruns_its_budget_is_unknown_and_the_others_are_planned():
    """The offers of one cluster take long to come (a slow cloud behind the offers function): that cluster
    alone is ``unknown`` with the reason; without item budgets (no enclosing ``item_seconds``) it is planned."""
    from fleet.planning.planner import compute_plan
    from fleet.provider import Cluster, NodePool, VersionOffers
    from tests.execution.helpers import OFFERED, policy
    clusters = [Cluster(provider="sim", location="lab", name=f"c{i}", control_plane="1.28.3",
                        node_pools=(NodePool("pool", "1.28.3", 3),)) for i in range(4)]
    slow = clusters[1].id

    def offers(c):  # noqa: ANN001, ANN202
        if c.id == slow:
            time.sleep(0.15)
        return VersionOffers(control_plane=OFFERED, node_pools={"*": OFFERED})

    with Budget(60, "planning", item_seconds=0.1):
        plan = compute_plan([policy("p")], clusters, offers, START)
    by = plan.by_id()
    assert by[slow].status == "unknown"
    assert by[slow].reasons == [f"cluster {slow} exceeded its budget of 0.1s while planning cluster {slow}"]
    assert all(by[c.id].status == "needs-upgrade" for c in clusters if c.id != slow)
    assert compute_plan([policy("p")], clusters, offers, START).by_id()[slow].status == "needs-upgrade"


def _big_fleet(n: int):  # noqa: ANN202
    from tests.reports.test_forecast import eks, pol
    return [pol(rollout={"maxConcurrentClusters": 1})], [eks(f"c{i:03d}", cp="1.29.2", nodes=3) for i in range(n)]


def test_a_forecast_past_its_budget_stops_with_an_error_naming_what_it_was_simulating():
    from fleet.reports.forecast import forecast_fleet
    from tests.reports.test_forecast import T0
    policies, clusters = _big_fleet(150)
    t0 = time.perf_counter()
    with pytest.raises(BudgetExceeded) as exc:
        forecast_fleet(policies, clusters, {}, T0, horizon=timedelta(days=365), budget_s=0.3)
    assert time.perf_counter() - t0 < 5
    msg = str(exc.value)
    assert msg.startswith("forecast exceeded its budget of 0.3s while ") and \
        ("(policy p)" in msg or "eks/eu-west-1/c" in msg), msg


def test_a_forecast_past_its_tick_bound_says_so():
    from fleet.reports.forecast import forecast_fleet
    from tests.reports.test_forecast import T0
    policies, clusters = _big_fleet(5)
    fc = forecast_fleet(policies, clusters, {}, T0, horizon=timedelta(days=365), max_ticks=3)
    assert any(n.startswith("forecast stopped after 3 ticks (its bound)") for n in fc.notes), fc.notes
    assert any(c.status == "pending" for c in fc.clusters.values())


def test_the_report_goes_on_without_a_forecast_past_its_budget(monkeypatch):
    from fleet.planning.planner import compute_plan
    from fleet.reports import forecast as forecast_module
    from fleet.reports.inputs import FleetInputs, compute_forecast
    from tests.reports.test_forecast import T0
    policies, clusters = _big_fleet(150)
    monkeypatch.setattr(forecast_module, "FORECAST_BUDGET_S", 0.3)      # the setting, not the code
    inputs = FleetInputs(policies, clusters, {}, compute_plan(policies, clusters, {}, T0))
    fc, notes = compute_forecast(inputs, T0, timedelta(days=365))
    assert fc is None and len(notes) == 1 and notes[0].startswith("forecast not computed: forecast exceeded its "
                                                                  "budget of 0.3s while "), notes
