"""The in-memory store against the SQL store: the same writes give the same reads, and a write block that
raises applies nothing (a transaction), on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.errors import StateError
from fleet.execution.model import MemberStatus, RunStatus, StepState, step_to_json
from fleet.provider import Component, Step
from fleet.state import open_store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STEP = Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.28.3")


@pytest.fixture
def stores(tmp_path):
    sql = open_store(f"sqlite:///{tmp_path}/s.db")
    mem = open_store("memory://")
    yield sql, mem
    sql.close()


def _script(store) -> None:
    """A representative sequence of everything the engine writes."""
    with store.write() as conn:
        for i, rid in enumerate(("r-b", "r-a")):
            store.insert_run(conn, id=rid, policy=f"p{i}", policy_snapshot={"spec": {"rollout": {"waves": []}}},
                             status="running", failures=0, approved_waves=[], wave_done_at={},
                             created_at=T0, updated_at=T0, shard=0)
            store.insert_run_clusters(conn, [
                {"run_id": rid, "cluster_id": cid, "provider": "sim", "wave": w, "wave_index": wi,
                 "status": "pending", "message": "", "target": "1.30.4"}
                for cid, w, wi in (("z", "canary", 0), ("b", "rest", 1), ("a", "rest", 1))])
        store.add_event(conn, T0, "run-started", run_id="r-a", data={"clusters": ["z", "b", "a"]})
    ids = []
    for cid in ("a", "b"):
        with store.write() as conn:
            ids.append(store.insert_step(conn, run_id="r-a", cluster_id=cid, step_key="cp:1.29", component="control-plane",
                                         pool=None, from_version="1.28.3", to_version="1.29.8", minor=1,
                                         spec=step_to_json(STEP), state="intent", attempts=0, polls=0,
                                         provider_calls=0, message="", epoch=3, created_at=T0))
            store.update_run_cluster(conn, "r-a", cid, status="active", started_at=T0)
    with store.write() as conn:
        store.update_step(conn, ids[0], state="running", operation_id="op-1", operation_data={"id": "op-1", "cluster_id": "a", "step_key": "cp:1.29",
                                                                      "data": {"zones": ("x",)}},
                          next_action_at=T0 + timedelta(minutes=1))
        store.update_step(conn, ids[1], state="succeeded", finished_at=T0 + timedelta(minutes=5))
        store.update_run(conn, "r-a", approved_waves=["rest"], wave_done_at={"canary": T0.isoformat()}, failures=1)
        store.set_control(conn, "paused", True)
        store.add_event(conn, T0 + timedelta(minutes=5), "step-succeeded", run_id="r-a", cluster_id="b",
                        step_key="cp:1.29", data={"version": "1.29.8"})


def _reads(store) -> dict:
    return {
        "runs": store.runs(), "active": store.runs(active_only=True), "by_policy": store.runs(policy="p1"),
        "run": store.run("r-a"), "missing": store.run("nope"),
        "members": store.members("r-a"), "all_members": store.members(), "latest": store.latest_memberships(),
        "steps": store.steps(), "open": store.steps(run_id="r-a", open_only=True),
        "by_cluster": store.steps(cluster_id="b"), "events": [{k: v for k, v in e.items()} for e in store.events()],
        "kind": store.events(kind="step-succeeded"), "after": store.events(after_id=1), "last": store.last_event_id(),
        "paused": store.get_control("paused"), "default": store.get_control("nope", 7), "count": store.step_count(),
    }


def test_memory_store_reads_like_the_sql_store(stores):
    sql, mem = stores
    _script(sql)
    _script(mem)
    a, b = _reads(sql), _reads(mem)
    for key in a:
        assert a[key] == b[key], key
    assert [s.state for s in b["open"]] == [StepState.RUNNING]
    assert [m.cluster_id for m in b["members"]] == ["z", "a", "b"]     # by wave, then cluster id
    assert b["steps"][0].step == STEP
    assert b["steps"][0].operation.data == {"zones": ["x"]}           # JSON round trip: tuple -> list
    assert {c: m.run_id for c, m in b["latest"].items()} == {"a": "r-b", "b": "r-b", "z": "r-b"}  # same time: by id


def _crash(store, conn) -> None:
    raise RuntimeError("crash inside the transaction")


def _duplicate_member(store, conn) -> None:
    store.insert_run_clusters(conn, [{"run_id": "r-a", "cluster_id": "a", "provider": "sim", "wave": "rest",
                                      "wave_index": 1, "status": "pending", "message": "", "target": None}])


@pytest.mark.parametrize("which", [0, 1], ids=["sql", "memory"])
@pytest.mark.parametrize(("then", "error"), [(_crash, RuntimeError), (_duplicate_member, StateError)],
                         ids=["exception", "duplicate-key"])
def test_a_failed_write_block_applies_nothing(stores, which, then, error):
    """An exception in the block, or a duplicate key (a StateError, as SQL's integrity error becomes)."""
    store = stores[which]
    _script(store)
    before = _reads(store)
    with pytest.raises(error), store.write() as conn:
        store.update_run(conn, "r-a", status="done")
        store.add_event(conn, T0, "run-done", run_id="r-a")
        then(store, conn)
    assert _reads(store) == before


@pytest.mark.parametrize("which", [0, 1], ids=["sql", "memory"])
def test_reads_are_immutable_snapshots(stores, which):
    """Records are frozen, and a record read before a write keeps the values it was read with."""
    store = stores[which]
    _script(store)
    run, member, step = store.run("r-a"), store.members("r-a")[0], store.steps()[0]
    for record, attr in ((run, "status"), (member, "status"), (step, "state")):
        with pytest.raises(AttributeError):
            setattr(record, attr, "done")
    with store.write() as conn:
        store.update_run(conn, "r-a", status="done", approved_waves=["rest", "x"])
        store.update_run_cluster(conn, "r-a", "z", status="failed")
        store.update_step(conn, step.id, state="failed")
    assert (run.status, run.approved_waves, member.status, step.state) == \
        (RunStatus.RUNNING, ("rest",), MemberStatus.PENDING, StepState.RUNNING)
    assert (store.run("r-a").status, store.run("r-a").approved_waves) == (RunStatus.DONE, ("rest", "x"))
    assert store.members("r-a")[0].status is MemberStatus.FAILED
    assert store.steps()[0].state is StepState.FAILED


@pytest.mark.parametrize("which", [0, 1], ids=["sql", "memory"])
def test_latest_memberships_prefer_the_newest_run(stores, which):
    """A cluster in two runs: the run created last wins, whatever the members' waves or the run ids."""
    store = stores[which]
    with store.write() as conn:
        for rid, created, wave_index in (("r-new", T0 + timedelta(hours=1), 1), ("r-old", T0, 0)):
            store.insert_run(conn, id=rid, policy="p", policy_snapshot={}, status="done", failures=0,
                             approved_waves=[], wave_done_at={}, created_at=created, updated_at=created)
            store.insert_run_clusters(conn, [{"run_id": rid, "cluster_id": "c", "provider": "sim", "wave": "w",
                                              "wave_index": wave_index, "status": "done", "message": rid}])
    assert {c: m.run_id for c, m in store.latest_memberships().items()} == {"c": "r-new"}


def test_memory_store_rejects_what_sql_cannot_store():
    store = open_store("memory://")
    with pytest.raises(TypeError), store.write() as conn:
        store.add_event(conn, T0, "x", data={"when": T0})    # a datetime is not JSON
    assert store.events() == []

