"""Tables of the state store (SQLAlchemy Core). Schema changes go through Alembic migrations."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("policy", String(253), nullable=False, index=True),
    Column("policy_snapshot", JSON, nullable=False),
    Column("status", String(32), nullable=False),          # fleet.execution.model.RunStatus values
    Column("failures", Integer, nullable=False, default=0),
    Column("approved_waves", JSON, nullable=False),
    Column("wave_done_at", JSON, nullable=False),          # wave name -> ISO time the wave completed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("shard", Integer, nullable=False, default=0),
)

run_clusters = Table(
    "run_clusters", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("cluster_id", String(512), primary_key=True),
    Column("provider", String(253), nullable=False),
    Column("wave", String(253), nullable=False),
    Column("wave_index", Integer, nullable=False),
    Column("status", String(32), nullable=False),          # MemberStatus: pending | active | done | failed | blocked
    Column("message", Text, nullable=False, default=""),
    Column("target", String(64)),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)

steps = Table(
    "steps", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("cluster_id", String(512), nullable=False),
    Column("step_key", String(300), nullable=False),
    Column("component", String(32), nullable=False),
    Column("pool", String(253)),
    Column("from_version", String(64), nullable=False),
    Column("to_version", String(64), nullable=False),
    Column("minor", Integer, nullable=False, default=0),
    Column("spec", JSON, nullable=False),                  # the provider Step, for re-dispatch after a crash
    Column("state", String(32), nullable=False),           # StepState: intent | running | verifying | succeeded | failed
    Column("operation_id", String(512)),
    Column("operation_data", JSON),
    Column("attempts", Integer, nullable=False, default=0),
    Column("polls", Integer, nullable=False, default=0),
    Column("provider_calls", Integer, nullable=False, default=0),
    Column("next_action_at", DateTime(timezone=True)),
    Column("message", Text, nullable=False, default=""),
    Column("epoch", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_steps_run_cluster", "run_id", "cluster_id"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("run_id", String(64)),
    Column("cluster_id", String(512), index=True),
    Column("step_key", String(300)),
    Column("operation_id", String(512)),
    Column("message", Text, nullable=False, default=""),
    Column("data", JSON),
)

control = Table(
    "control", metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JSON),
)

leases = Table(
    "leases", metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(256), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("renewed_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# safety gates (fleet.gates, fleet.state.gates): every evaluation, and the operators' overrides
gate_evaluations = Table(
    "gate_evaluations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64)),
    Column("cluster_id", String(512), nullable=False),
    Column("step_id", Integer),                            # the journaled step (post-step gates)
    Column("step_key", String(300)),
    Column("gate", String(100), nullable=False),
    Column("gate_type", String(32), nullable=False),
    Column("phase", String(16), nullable=False),           # preflight | post-step
    Column("result", String(16), nullable=False),          # pass | fail | error | overridden
    Column("reason", Text, nullable=False, default=""),
    Column("evidence", JSON),
    Index("ix_gate_evaluations_cluster", "cluster_id", "id"),
    Index("ix_gate_evaluations_step", "step_id"),
)

gate_overrides = Table(
    "gate_overrides", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_id", String(512), nullable=False, index=True),
    Column("gate", String(100), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(128)),
)
