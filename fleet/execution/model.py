"""The execution vocabulary: statuses as enums, and the typed records the state store returns.

A run snapshots one policy and the clusters it upgrades (its *members*); each member advances one journaled
*step* at a time. The store persists these records (fleet.state); the engine reads them, decides (gates,
step machine) and writes through the journal. Records are frozen: a change is a new record from the store.

Statuses are ``StrEnum``s, so they compare equal to (and serialise as) the plain strings stored in the
database and shown in the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleet.provider import BlueGreen, Component, OperationRef, Step


class RunStatus(StrEnum):
    RUNNING = "running"
    HALTED = "halted"      # maxFailures reached: no new steps until `fleet resume`
    DONE = "done"
    FAILED = "failed"      # finished, with at least one failed member

    @property
    def active(self) -> bool:
        return self in ACTIVE_RUN_STATUSES


ACTIVE_RUN_STATUSES: tuple[RunStatus, ...] = (RunStatus.RUNNING, RunStatus.HALTED)


class MemberStatus(StrEnum):
    PENDING = "pending"    # waiting for its wave, a slot or a window
    ACTIVE = "active"      # has started; holds a concurrency slot until it finishes
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"

    @property
    def finished(self) -> bool:
        return self in (MemberStatus.DONE, MemberStatus.FAILED, MemberStatus.BLOCKED)


class StepState(StrEnum):
    INTENT = "intent"          # journaled before provider.start; re-dispatched (idempotently) after a crash
    RUNNING = "running"        # the provider accepted it: an operation id is recorded
    VERIFYING = "verifying"    # the operation ended: check the next observation
    GATING = "verifying-gates"  # verified: the policy's post-step gates must pass (fleet.gates)
    ROLLING_BACK = "rolling-back"  # a post-step gate failed: the provider's rollback operation runs
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def open(self) -> bool:
        return self in OPEN_STEP_STATES


OPEN_STEP_STATES: tuple[StepState, ...] = (StepState.INTENT, StepState.RUNNING, StepState.VERIFYING,
                                           StepState.GATING, StepState.ROLLING_BACK)
_MEMBER_STATUS = {s.value: s for s in MemberStatus}    # a dict lookup: records are built once per row read


# ---- JSON forms of the provider values kept in step rows ------------------------------------------------
def step_to_json(step: Step) -> dict[str, Any]:
    d = asdict(step)
    d["component"] = step.component.value
    d.pop("origin", None)       # set only on the Step handed to start, never journaled (fleet.provider.Step)
    return d


def step_from_json(d: Mapping[str, Any]) -> Step:
    values = dict(d)
    values["component"] = Component(values["component"])
    if values.get("blue_green") is not None:
        values["blue_green"] = BlueGreen(**values["blue_green"])
    return Step(**values)


def op_to_json(op: OperationRef) -> dict[str, Any]:
    return {"id": op.id, "cluster_id": op.cluster_id, "step_key": op.step_key, "data": dict(op.data)}


def op_from_json(d: Mapping[str, Any]) -> OperationRef:
    return OperationRef(d["id"], d["cluster_id"], d["step_key"], d.get("data") or {})


# ---- records ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Run:
    id: str
    policy: str
    policy_snapshot: Mapping[str, Any]
    status: RunStatus
    failures: int
    approved_waves: tuple[str, ...]
    wave_done_at: Mapping[str, str]          # wave name -> ISO time the wave completed
    created_at: datetime
    updated_at: datetime
    shard: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Run:
        return cls(id=row["id"], policy=row["policy"], policy_snapshot=row["policy_snapshot"],
                   status=RunStatus(row["status"]), failures=int(row["failures"] or 0),
                   approved_waves=tuple(row["approved_waves"] or ()), wave_done_at=dict(row["wave_done_at"] or {}),
                   created_at=row["created_at"], updated_at=row["updated_at"], shard=int(row.get("shard") or 0))


@dataclass(frozen=True, slots=True)
class Member:
    """One cluster of a run."""
    run_id: str
    cluster_id: str
    provider: str
    wave: str
    wave_index: int
    status: MemberStatus
    message: str = ""
    target: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Member:
        return cls(run_id=row["run_id"], cluster_id=row["cluster_id"], provider=row["provider"], wave=row["wave"],
                   wave_index=int(row["wave_index"]), status=_MEMBER_STATUS[row["status"]],
                   message=row.get("message") or "", target=row.get("target"), started_at=row.get("started_at"),
                   finished_at=row.get("finished_at"))


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One journaled step: the provider Step it dispatches and, once started, its OperationRef."""
    id: int
    run_id: str
    cluster_id: str
    step: Step
    minor: bool
    state: StepState
    operation: OperationRef | None
    attempts: int
    polls: int
    provider_calls: int
    next_action_at: datetime | None
    message: str
    epoch: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.step.key

    @property
    def operation_id(self) -> str | None:
        return self.operation.id if self.operation is not None else None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StepRecord:
        op = row.get("operation_data")
        return cls(id=int(row["id"]), run_id=row["run_id"], cluster_id=row["cluster_id"],
                   step=step_from_json(row["spec"]), minor=bool(row["minor"]), state=StepState(row["state"]),
                   operation=op_from_json(op) if op else None, attempts=int(row["attempts"] or 0),
                   polls=int(row["polls"] or 0), provider_calls=int(row["provider_calls"] or 0),
                   next_action_at=row.get("next_action_at"), message=row.get("message") or "",
                   epoch=int(row.get("epoch") or 0), created_at=row["created_at"], started_at=row.get("started_at"),
                   finished_at=row.get("finished_at"))


@dataclass
class TickResult:
    """What one engine tick did, and when it wants to run again."""
    at: datetime
    next_wake: datetime
    dispatched: int = 0
    polled: int = 0
    finished_steps: int = 0
    runs_started: int = 0
    active_runs: int = 0
