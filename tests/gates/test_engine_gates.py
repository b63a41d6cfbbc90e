"""Safety gates in the engine, on the simulated provider in virtual time (the sim's scenario data drives
its checks: providers/sim/checks.py). Proven from the provider's call log and the journal."""

from __future__ import annotations

from datetime import timedelta

from fleet.clock import FakeClock
from fleet.gates.overrides import create_override, revoke_override
from fleet.reports.compliance import compute_cluster
from fleet.reports.inputs import observe_latest_memberships
from fleet.reports.lifecycle import load_builtin
from fleet.state import open_store
from tests.execution.helpers import START, drive, make_engine, policy, sim_fleet

BLOCKERS = {"preflight": [{"name": "blockers", "type": "upgrade-blockers"}]}


def gated(gates, **rollout):
    return policy(gates=gates, rollout={"maxConcurrentClusters": 4, **rollout})


def started(world, cid):
    return [k for c, k in world.upgrade_log if c == cid]


def test_a_blocked_cluster_never_starts_and_the_run_goes_on(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 2, pools=0)
    world.set_checks("sim/lab/c0000", blockers={"*": ["deprecated API extensions/v1beta1 Ingress used"]})
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [gated(BLOCKERS)])
    drive(eng, clock, until=START + timedelta(hours=6))
    assert world.clusters["sim/lab/c0001"].control_plane == "1.30.4"          # the run was not blocked
    assert started(world, "sim/lab/c0000") == []                              # never started
    evals = store.gate_evaluations(cluster_id="sim/lab/c0000", limit=100000)
    assert len(evals) > 10 and {e.result for e in evals} == {"fail"}        # re-evaluated at each opportunity
    assert "deprecated API" in evals[-1].reason and evals[-1].evidence["blockers"]
    blocked = store.events(kind="cluster-gate-blocked", limit=1000)
    assert [e["cluster_id"] for e in blocked] == ["sim/lab/c0000"]           # journaled once, with the reason
    assert "deprecated API" in blocked[0]["message"]
    cp = eng.last_plan.by_id()["sim/lab/c0000"]
    assert cp.status == "blocked-by-gate" and "deprecated API" in cp.reasons[-1]
    assert [m.status.value for m in store.members()] == ["pending", "done"]
    member = observe_latest_memberships(store)["sim/lab/c0000"]               # what the report shows
    assert member.status == "blocked-by-gate" and "deprecated API" in member.message
    row = compute_cluster(cp, load_builtin(), clock.now(), member)
    # the report: compliance as it is, and the upgrade state says a gate holds it, and why (#19)
    assert row.upgrade_state == "waiting-gate" and "deprecated API" in row.upgrade_reason, row
    # the blocker goes away: the cluster starts at the next opportunity and the run finishes
    world.set_checks("sim/lab/c0000", blockers={})
    drive(eng, clock, until=clock.now() + timedelta(hours=6))
    assert world.clusters["sim/lab/c0000"].control_plane == "1.30.4"
    assert not store.runs(active_only=True)
    assert store.events(kind="cluster-gate-cleared", limit=10)[0]["cluster_id"] == "sim/lab/c0000"


def test_an_unsupported_gate_is_an_error_never_a_pass(tmp_path):
    clock = FakeClock(START)
    world = sim_fleet(clock, 1, pools=0)
    store = open_store("memory://")
    pol = gated({"preflight": [{"name": "backup", "type": "etcd-backup", "maxAge": "24h"}]})
    drive(make_engine(store, world, clock, [pol]), clock, until=START + timedelta(hours=1))
    assert world.upgrade_log == []
    e = store.gate_evaluations()[-1]
    assert (e.result, e.reason) == ("error", "provider sim does not evaluate etcd-backup")


def test_etcd_backup_freshness_follows_virtual_time():
    clock = FakeClock(START)
    world = sim_fleet(clock, 1, pools=0)
    world.set_checks("sim/lab/c0000", backup_at=START - timedelta(hours=30))
    store = open_store("memory://")
    eng = make_engine(store, world, clock, [gated({"preflight": [{"name": "backup", "type": "etcd-backup",
                                                                   "maxAge": "24h"}]})])
    drive(eng, clock, until=START + timedelta(hours=1))
    assert world.upgrade_log == [] and store.gate_evaluations()[-1].result == "fail"
    world.set_checks("sim/lab/c0000", backup_at=clock.now() - timedelta(hours=1))     # a backup was taken
    drive(eng, clock, until=clock.now() + timedelta(minutes=5))
    assert world.upgrade_log and store.gate_evaluations()[-1].result == "pass"


def test_an_override_lets_exactly_the_named_gate_pass_until_it_expires(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 1, pools=0, cp_minutes=60)    # the override expires during the second step
    cid = "sim/lab/c0000"
    world.set_checks(cid, blockers={"*": ["kubelet skew"]}, unhealthy="etcd member down")
    store = open_store(state_url)
    gates = {"preflight": [{"name": "blockers", "type": "upgrade-blockers"},
                           {"name": "health", "type": "cluster-health"}]}
    eng = make_engine(store, world, clock, [gated(gates)])
    create_override(store, clock.now(), "alice", cid, "blockers", START + timedelta(hours=2), "known false positive")
    drive(eng, clock, until=START + timedelta(minutes=30))
    assert world.upgrade_log == []                         # health still blocks: only "blockers" is overridden
    last = {e.gate: e for e in store.gate_evaluations(cluster_id=cid, limit=100000)}
    assert last["blockers"].result == "overridden" and "alice" in last["blockers"].reason
    assert last["blockers"].evidence["reason"] == "known false positive"
    assert last["health"].result == "fail"
    world.set_checks(cid, unhealthy="")
    drive(eng, clock, until=START + timedelta(minutes=31))
    steps = store.steps(cluster_id=cid)
    assert steps and steps[0].step.force_until == "2026-01-05T02:00:00Z"   # the cloud's force flag
    # after the override expired, the same gate blocks again (the next step of the same cluster)
    drive(eng, clock, until=START + timedelta(hours=4))
    after = [e for e in store.gate_evaluations(cluster_id=cid, limit=100000) if e.gate == "blockers"
             and e.at >= START + timedelta(hours=2)]
    assert after and {e.result for e in after} == {"fail"}
    assert world.clusters[cid].control_plane == "1.29.8"      # the third step never started
    assert all(s.step.force_until is None for s in store.steps(cluster_id=cid) if s.created_at >= START + timedelta(hours=2))


def test_an_expired_or_revoked_override_is_ignored():
    clock = FakeClock(START)
    world = sim_fleet(clock, 1, pools=0)
    cid = "sim/lab/c0000"
    world.set_checks(cid, blockers={"*": ["deprecated API"]})
    store = open_store("memory://")
    eng = make_engine(store, world, clock, [gated(BLOCKERS)])
    create_override(store, clock.now(), "bob", cid, "blockers", START + timedelta(minutes=1), "quick")
    o = create_override(store, clock.now(), "bob", cid, "other-gate", START + timedelta(hours=9), "wrong gate")
    revoked = create_override(store, clock.now(), "bob", cid, "blockers", START + timedelta(hours=9), "revoked")
    revoke_override(store, clock.now(), "carol", revoked.id)
    clock.set(START + timedelta(minutes=2))
    drive(eng, clock, until=START + timedelta(hours=1))
    assert world.upgrade_log == []
    assert {e.result for e in store.gate_evaluations()} == {"fail"}
    assert o.active(clock.now())      # active, but for another gate: changes nothing


def test_a_failed_post_step_gate_rolls_back_where_the_cloud_can(state_url):
    clock = FakeClock(START)
    world = sim_fleet(clock, 1, pools=0)
    cid = "sim/lab/c0000"
    world.set_checks(cid, nodes_not_ready_for=-1, rollback=True, rollback_within=3600)
    store = open_store(state_url)
    pol = gated({"postStep": [{"name": "nodes", "type": "nodes-ready", "timeout": "10m"}]})
    eng = make_engine(store, world, clock, [pol])
    drive(eng, clock, until=START + timedelta(hours=3))
    assert world.rollback_log == [(cid, "cp@1.28.9")]
    assert world.clusters[cid].control_plane == "1.28.3"        # back where it was
    [m] = store.members()
    assert m.status.value == "failed" and "gate nodes failed" in m.message and "rolled back" in m.message
    [step] = store.steps(cluster_id=cid)
    assert step.state.value == "failed"
    assert store.events(kind="step-rollback")[0]["data"]["api"] == "SimRollbackStep"
    post = store.gate_evaluations(step_id=step.id, limit=1000)
    assert post and {e.phase for e in post} == {"post-step"} and post[-1].result == "fail"
    assert store.runs()[0].failures == 1 and store.runs()[0].status.value == "failed"   # counted like any failure


def test_a_failed_post_step_gate_halts_where_the_cloud_cannot_roll_back():
    clock = FakeClock(START)
    world = sim_fleet(clock, 1, pools=0)
    cid = "sim/lab/c0000"
    world.set_checks(cid, nodes_not_ready_for=-1, rollback=False)
    store = open_store("memory://")
    pol = gated({"postStep": [{"name": "nodes", "type": "nodes-ready", "timeout": "10m"}]})
    drive(make_engine(store, world, clock, [pol]), clock, until=START + timedelta(hours=3))
    assert world.rollback_log == [] and world.clusters[cid].control_plane == "1.28.9"
    [m] = store.members()
    assert m.status.value == "failed" and "cluster halted (provider sim cannot roll back cp@1.28.9)" in m.message


def test_rollback_too_late_or_on_failure_halt_halts():
    for scenario, gates_extra, why in (({"rollback": True, "rollback_within": 60}, {}, "allowed within 60s"),
                                       ({"rollback": True}, {"onFailure": "halt"}, "onFailure: halt")):
        clock = FakeClock(START)
        world = sim_fleet(clock, 1, pools=0)
        world.set_checks("sim/lab/c0000", nodes_not_ready_for=-1, **scenario)
        store = open_store("memory://")
        pol = gated({"postStep": [{"name": "nodes", "type": "nodes-ready", "timeout": "10m"}], **gates_extra})
        drive(make_engine(store, world, clock, [pol]), clock, until=START + timedelta(hours=3))
        assert world.rollback_log == []
        assert why in store.members()[0].message


def test_post_step_gates_settle_then_the_step_succeeds():
    clock = FakeClock(START)
    world = sim_fleet(clock, 1, pools=1)
    cid = "sim/lab/c0000"
    world.set_checks(cid, nodes_not_ready_for=120)
    store = open_store("memory://")
    pol = gated({"postStep": [{"name": "nodes", "type": "nodes-ready", "timeout": "10m", "settle": "1m"}]})
    drive(make_engine(store, world, clock, [pol]), clock, until=START + timedelta(days=1))
    assert world.clusters[cid].control_plane == "1.30.4" and world.clusters[cid].pools[0].version == "1.30.4"
    assert store.runs()[0].status.value == "done"
    first = store.steps(cluster_id=cid)[0]
    results = [e for e in store.gate_evaluations(step_id=first.id, limit=1000)]
    assert results[0].result == "fail" and results[-1].result == "pass"
    assert results[-1].at - next(e.at for e in results if e.result == "pass") >= timedelta(minutes=1)
    assert all(s.state.value == "succeeded" for s in store.steps(cluster_id=cid))


def test_max_failures_counts_gate_failures():
    clock = FakeClock(START)
    world = sim_fleet(clock, 4, pools=0)
    for i in range(4):
        world.set_checks(f"sim/lab/c{i:04d}", nodes_not_ready_for=-1)
    store = open_store("memory://")
    pol = gated({"postStep": [{"name": "nodes", "type": "nodes-ready", "timeout": "5m"}]},
                maxConcurrentClusters=1, maxFailures=2)
    drive(make_engine(store, world, clock, [pol]), clock, until=START + timedelta(hours=6))
    run = store.runs()[0]
    assert run.status.value == "halted" and run.failures == 2
    assert [m.status.value for m in store.members()].count("failed") == 2
    assert len({c for c, _k in world.upgrade_log}) == 2            # nothing new started after the halt
