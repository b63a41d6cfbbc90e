"""Plan equals execution (issue 14): the steps the engine executes are the steps of the plan computed before
the run, for every provider x path x node-pool mode x budget shape, through each provider's emulator.

For each provider (found through the ``fleet.emulators`` / ``fleet.providers`` entry points, like the
contract suite: tests/providers/harness.py), one emulator is started on a FakeClock and seeded with one
cluster per combination (control plane at the current version, two pools at it, three minors offered).
One policy per combination selects its cluster by name. The plan is computed exactly as ``fleet plan
--config`` computes it (discovery, offers, the providers' checkers and upgrade rules), then the real engine
runs every run to completion in virtual time. For every cluster, the executed step log (the store's steps, in
order) must equal the plan's steps: the same component, pool, from, to, budget and strategy, each once, all
succeeded, and the run done.

A provider whose upgrade rules are not yet declared runs with fleet's DEFAULT rules; the table does not
excuse any combination: a failure is a real disagreement between plan, engine and emulator.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from fleet.clock import FakeClock
from fleet.emulator import known_emulator_types
from fleet.execution.model import StepRecord
from fleet.planning.plan import ClusterPlan
from fleet.planning.planner import compute_plan
from fleet.policy.models import UpgradePolicy
from fleet.provider import provider_rules
from fleet.runtime import build_engine, open_state
from tests.providers.harness import KitHarness, make_harness

PROVIDERS = ("sim", "eks", "gke", "aks", "oke", "capi", "kops")
PATHS = ("patch-first-then-minor", "minor-by-minor")
MODES = ("lockstep", "skip-level")
BUDGETS = {"surge2": {"maxSurge": 2, "maxUnavailable": 0}, "unavail50pct": {"maxSurge": 0, "maxUnavailable": "50%"}}
# every path x every pool mode, each budget shape with each path and each mode (pairwise): 4 clusters per
# provider keep the table within a few minutes (kops runs a CLI per call)
COMBOS = [("patch-first-then-minor", "lockstep", "surge2"), ("patch-first-then-minor", "skip-level", "unavail50pct"),
          ("minor-by-minor", "lockstep", "unavail50pct"), ("minor-by-minor", "skip-level", "surge2")]
MAX_TICKS = 3000


def next_minor(version: str) -> str:
    """The same spelling one minor later (1.30.4 -> 1.31.4, v1.31.1 -> v1.32.1, 1.30.2-gke.1 -> 1.31.2-gke.1)."""
    m = re.match(r"^(v?\d+)\.(\d+)(.*)$", version)
    assert m, version
    return f"{m.group(1)}.{int(m.group(2)) + 1}{m.group(3)}"


def combo_name(i: int) -> str:
    return f"pe{i}"


def policy_for(i: int, cluster_id: str, path: str, mode: str, budget: str, target: str) -> UpgradePolicy:
    return UpgradePolicy.model_validate({
        "apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": f"pe-{i}"},
        "spec": {"selector": {"names": [cluster_id]}, "target": {"version": target}, "path": path,
                 "nodePools": {"upgrade": mode, **BUDGETS[budget]},
                 "rollout": {"maxConcurrentClusters": 1, "maxFailures": 1}},
    })


def planned(cp: ClusterPlan) -> list[tuple[Any, ...]]:
    return [(s.component.value, s.pool, s.from_, s.to, s.max_surge, s.max_unavailable,
             s.strategy if s.pool else "surge") for s in cp.steps]


def executed(rows: list[StepRecord]) -> list[tuple[Any, ...]]:
    return [(r.step.component.value, r.step.pool, r.step.from_, r.step.to, r.step.max_surge,
             r.step.max_unavailable, r.step.strategy) for r in rows]


def drive(engine: Any, clock: FakeClock, done: Any) -> int:
    ticks = 0
    while ticks < MAX_TICKS and not done():
        res = engine.reconcile()
        ticks += 1
        clock.set(max(res.next_wake, clock.now() + timedelta(seconds=1)))
    return ticks


@pytest.fixture(params=[p for p in PROVIDERS if p in known_emulator_types()] or PROVIDERS)
def kit(request: pytest.FixtureRequest) -> Any:
    h = make_harness(request.param)
    h.start()
    yield h
    h.stop()


def test_every_provider_path_pool_mode_and_budget_executes_its_plan(kit: KitHarness):
    assert set(PROVIDERS) <= set(known_emulator_types()), known_emulator_types()
    cur, patch, nxt = kit.versions()
    last = next_minor(nxt)
    offered = list(dict.fromkeys([cur, patch, nxt, last]))
    ids = {}
    for i in range(len(COMBOS)):
        # pool names unique in the cloud (CAPI MachineDeployments share a namespace) and valid everywhere
        # (AKS agent pools: lowercase letters and digits)
        ids[i] = kit.seed(combo_name(i), cur, {f"{combo_name(i)}a": cur, f"{combo_name(i)}b": cur}, offered)
    policies = [policy_for(i, ids[i], *COMBOS[i], target=last) for i in range(len(COMBOS))]

    provider = kit.provider()
    providers = {kit.type: provider}
    now = kit.clock.now()
    # the plan as `fleet plan --config` computes it (fleet.runtime.observe_live)
    clusters = provider.discover()
    by_id = {c.id: c for c in clusters}
    assert set(ids.values()) <= set(by_id), (ids, sorted(by_id))
    offers = {c.id: provider.offers(c) for c in clusters if c.id in ids.values()}
    plan = compute_plan(policies, [by_id[cid] for cid in ids.values()], lambda c: offers[c.id], now,
                        {kit.type: provider.check_step}, rules=provider_rules(providers)).by_id()
    for i, cid in ids.items():
        assert plan[cid].status == "needs-upgrade", (COMBOS[i], plan[cid].reasons)

    store = open_state("memory://")
    # the daemon's default discovery cadence (FleetConfig spec.discoveryInterval: 10 min): between discoveries
    # the engine re-reads only the clusters it acts on, as in production
    engine = build_engine(store, providers, lambda: policies, kit.clock, reconcile_interval=timedelta(minutes=1),
                          discovery_interval=timedelta(minutes=10))

    def done() -> bool:
        runs = store.runs()
        return len(runs) == len(COMBOS) and not store.runs(active_only=True)
    ticks = drive(engine, kit.clock, done)

    failures = []
    for i, cid in ids.items():
        rows = store.steps(cluster_id=cid)
        want, got = planned(plan[cid]), executed(rows)
        members = [rc for rc in store.members() if rc.cluster_id == cid]
        state = [(rc.status.value, rc.message) for rc in members]
        if got != want or any(r.state != "succeeded" for r in rows) or [s for s, _ in state] != ["done"]:
            failures.append(f"{kit.type} {COMBOS[i]}: run {state}\n  planned  {want}\n  executed {got}\n"
                            f"  states {[(r.key, r.state.value, r.message) for r in rows]}")
    assert not failures, f"after {ticks} ticks:\n" + "\n".join(failures)
