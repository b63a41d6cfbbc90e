"""Rows that cannot be stored are refused at the store boundary with UnstorableValueError, before the write and
on every store alike (on PostgreSQL a NUL or an over-long cluster id raised DataError and aborted every tick
for the whole fleet, #22); the store stays usable for every other cluster."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleet.execution.model import MemberStatus, RunStatus
from fleet.state import open_store
from fleet.state.errors import UnstorableValueError
from fleet.state.values import unstorable_reason

T = datetime(2026, 1, 1, tzinfo=UTC)
BAD_IDS = {"nul": "eks/lab/bad\x00name", "overlong": "eks/lab/" + "x" * 600}


def _member(run_id: str, cluster_id: str) -> dict:
    return {"run_id": run_id, "cluster_id": cluster_id, "provider": "eks", "wave": "all", "wave_index": 0,
            "status": MemberStatus.PENDING.value, "message": ""}


@pytest.mark.parametrize("bad", sorted(BAD_IDS))
def test_an_unstorable_cluster_id_fails_only_its_own_write(state_url, bad) -> None:
    store = open_store(state_url)
    cid = BAD_IDS[bad]
    with store.write() as tx:
        store.insert_run(tx, id="r1", policy="p", policy_snapshot={}, status=RunStatus.RUNNING.value, failures=0,
                         approved_waves=[], wave_done_at={}, created_at=T, updated_at=T, shard=0)
    with pytest.raises(UnstorableValueError) as exc, store.write() as tx:
        store.insert_run_clusters(tx, [_member("r1", cid)])
    assert exc.value.field == "run_clusters.cluster_id" and exc.value.cluster_id == cid
    assert ("NUL" if bad == "nul" else "longer than 512") in str(exc.value)
    assert "\x00" not in str(exc.value) and len(str(exc.value)) < 400     # the message itself is printable
    with pytest.raises(UnstorableValueError), store.write() as tx:
        store.add_event(tx, T, "cluster-blocked", cluster_id=cid)
    with pytest.raises(UnstorableValueError), store.write() as tx:
        store.insert_step(tx, run_id="r1", cluster_id=cid, step_key="k", component="control-plane",
                          from_version="1.28.3", to_version="1.29.1", minor=29, spec={}, state="intent",
                          attempts=0, polls=0, provider_calls=0, message="", epoch=0, created_at=T)
    with store.write() as tx:                                    # the healthy clusters are stored as before
        store.insert_run_clusters(tx, [_member("r1", "eks/lab/good")])
        store.add_event(tx, T, "cluster-queued", cluster_id="eks/lab/good", message="ok")
    assert [m.cluster_id for m in store.members("r1")] == ["eks/lab/good"]
    assert [e["cluster_id"] for e in store.events()] == ["eks/lab/good"]
    store.close()


def test_updates_and_free_text_are_checked_too(state_url) -> None:
    store = open_store(state_url)
    with store.write() as tx:
        store.insert_run(tx, id="r1", policy="p", policy_snapshot={}, status=RunStatus.RUNNING.value, failures=0,
                         approved_waves=[], wave_done_at={}, created_at=T, updated_at=T, shard=0)
        store.insert_run_clusters(tx, [_member("r1", "eks/lab/a")])
    with pytest.raises(UnstorableValueError, match="run_clusters.message"), store.write() as tx:
        store.update_run_cluster(tx, "r1", "eks/lab/a", message="provider said \x00")
    with pytest.raises(UnstorableValueError, match="run_clusters.target"), store.write() as tx:
        store.update_run_cluster(tx, "r1", "eks/lab/a", target="1." + "9" * 80)
    assert store.members("r1")[0].message == ""
    store.close()


def test_unstorable_reason_for_a_cluster_id() -> None:
    assert unstorable_reason("eks/lab/ok") is None
    assert "NUL" in (unstorable_reason("a\x00b") or "")
    assert "longer than 512" in (unstorable_reason("x" * 513) or "")
    assert unstorable_reason("x" * 512) is None
