"""A cluster the store cannot hold fails only itself, never the tick (#22). On PostgreSQL one cluster whose name
held a NUL or exceeded 512 characters raised DataError in every tick: 0 of 6 healthy clusters upgraded. Now
such a cluster is planned ``blocked`` with the reason (logged once), provider text is made printable before it
is journaled, and a write refused anyway (an operation id no row can hold) fails only its own step."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fleet.clock import FakeClock
from fleet.errors import TemporaryProviderError
from fleet.execution.model import MemberStatus
from fleet.provider import Cluster, NodePool, OperationRef, OperationState, OperationStatus, Step
from fleet.state import open_store
from providers.sim.adapter import SimProvider
from tests.execution.helpers import OFFERED, START, drive, make_engine, policy, sim_fleet

NUL_NAME = "bad\x00name"
LONG_NAME = "x" * 600


def _add(world: Any, name: str, pools: tuple[str, ...] = ("pool0",)) -> str:
    c = Cluster(provider="sim", location="lab", name=name, control_plane="1.28.3",
                node_pools=tuple(NodePool(p, "1.28.3", 3) for p in pools), available=OFFERED)
    world.add(c)
    return c.id


def _healthy_done(world: Any, ids: list[str]) -> bool:
    return all(world.clusters[i].control_plane == "1.30.4" and all(p.version == "1.30.4"
               for p in world.clusters[i].pools) for i in ids)


def test_nul_and_overlong_names_block_only_their_cluster(state_url, caplog) -> None:
    clock = FakeClock(START)
    world = sim_fleet(clock, 6)
    healthy = sorted(world.clusters)
    nul, long = _add(world, NUL_NAME), _add(world, LONG_NAME)
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 6})])
    with caplog.at_level(logging.WARNING, logger="fleet.engine"):
        ticks = drive(eng, clock, until=START + timedelta(days=2),
                      done=lambda: _healthy_done(world, healthy) and not store.runs(active_only=True))
    assert ticks > 3
    assert _healthy_done(world, healthy)                                     # all 6 healthy ones upgraded
    assert world.clusters[nul].control_plane == "1.28.3" and world.clusters[long].control_plane == "1.28.3"
    assert [k for k, _ in world.upgrade_log if k in (nul, long)] == []       # nothing was sent for them
    plan = eng.last_plan
    assert plan is not None
    by_id = plan.by_id()
    assert by_id[nul].status == "blocked" and by_id[long].status == "blocked" and not by_id[nul].steps
    assert "cannot be stored (run_clusters.cluster_id: it contains a NUL character" in by_id[nul].reasons[0]
    assert "cannot be stored (run_clusters.cluster_id: it is 608 characters long, longer than 512)" \
        in by_id[long].reasons[0]
    assert "\x00" not in by_id[nul].reasons[0]
    # logged once per cluster, not once per tick; the log line shows the id printably
    blocked_logs = [r for r in caplog.records if r.getMessage() == "cluster blocked: its rows cannot be stored"]
    assert len(blocked_logs) == 2
    assert {r.cluster for r in blocked_logs} == {"sim/lab/bad\\x00name", f"sim/lab/{'x' * 72}..."}
    members = {m.cluster_id for r in store.runs() for m in store.members(r.id)}
    assert members == set(healthy)
    store.close()


class NoisyProvider:
    """The sim provider behind a cloud whose texts hold NUL characters: the first start of each cluster is
    refused for now, every poll answers "running" once, and ``fail`` clusters' operations end failed - each
    message with a NUL in it. ``long_op`` clusters get an operation id no row can hold (600 characters)."""

    def __init__(self, inner: SimProvider, *, fail: set[str] = frozenset(), long_op: set[str] = frozenset()):
        self.inner, self.fail, self.long_op = inner, fail, long_op
        self.refused: set[str] = set()
        self.polled: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        if cluster.id not in self.refused:
            self.refused.add(cluster.id)
            raise TemporaryProviderError("busy\x00 try later", provider="sim", retry_after=30)
        ref = self.inner.start(cluster, step)
        if cluster.id in self.long_op:
            return OperationRef("op-" + "9" * 600, ref.cluster_id, ref.step_key, ref.data)
        return ref

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        if cluster.id in self.fail:
            return OperationStatus(OperationState.FAILED, "node drain \x00 timed out")
        key = f"{cluster.id}|{op.id}"
        if key not in self.polled:
            self.polled.add(key)
            return OperationStatus(OperationState.RUNNING, "upgrading\x00", poll_after=60)
        return self.inner.poll(cluster, op)


def test_nul_in_provider_messages_is_stored_printably(state_url) -> None:
    clock = FakeClock(START)
    world = sim_fleet(clock, 4)
    ids = sorted(world.clusters)
    failing, long_op = ids[0], ids[1]
    store = open_store(state_url)
    noisy = NoisyProvider(SimProvider("sim", clock=clock, world=world), fail={failing}, long_op={long_op})
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 4, "maxFailures": 3})],
                      provider=noisy)
    drive(eng, clock, until=START + timedelta(days=2), done=lambda: bool(store.runs()) and not store.runs(active_only=True))
    assert _healthy_done(world, ids[2:])                                     # the others upgraded
    members = {m.cluster_id: m for r in store.runs() for m in store.members(r.id)}
    assert members[failing].status is MemberStatus.FAILED
    assert members[failing].message.endswith("failed: node drain \\x00 timed out")
    assert members[long_op].status is MemberStatus.FAILED
    assert members[long_op].message == ("cannot be stored (steps.operation_id: it is 603 characters long, "
                                        "longer than 512; value 'op-" + "9" * 37 + "'...)")
    retries = store.events(kind="step-retry", limit=100)
    assert retries and all(e["message"] == "busy\\x00 try later" for e in retries)
    assert all("\x00" not in (e["message"] or "") for e in store.events(limit=100000))
    store.close()


def test_a_pool_name_no_row_can_hold_blocks_its_cluster(state_url) -> None:
    clock = FakeClock(START)
    world = sim_fleet(clock, 2)
    healthy = sorted(world.clusters)
    odd = _add(world, "odd", pools=("p" * 260,))
    store = open_store(state_url)
    eng = make_engine(store, world, clock, [policy(rollout={"maxConcurrentClusters": 3})])
    drive(eng, clock, until=START + timedelta(days=2),
          done=lambda: _healthy_done(world, healthy) and not store.runs(active_only=True))
    assert _healthy_done(world, healthy)
    assert eng.last_plan is not None
    cp = eng.last_plan.by_id()[odd]
    assert cp.status == "blocked"
    assert cp.reasons[0] == "cannot be stored (steps.pool: it is 260 characters long, longer than 253)"
    store.close()
