"""initial schema: runs, run_clusters, steps, events, control, leases

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("policy", sa.String(253), nullable=False, index=True),
        sa.Column("policy_snapshot", sa.JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("approved_waves", sa.JSON, nullable=False),
        sa.Column("wave_done_at", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
    )
    op.create_table(
        "run_clusters",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("cluster_id", sa.String(512), primary_key=True),
        sa.Column("provider", sa.String(253), nullable=False),
        sa.Column("wave", sa.String(253), nullable=False),
        sa.Column("wave_index", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("target", sa.String(64)),
        sa.Column("started_at", TZ),
        sa.Column("finished_at", TZ),
    )
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("cluster_id", sa.String(512), nullable=False),
        sa.Column("step_key", sa.String(300), nullable=False),
        sa.Column("component", sa.String(32), nullable=False),
        sa.Column("pool", sa.String(253)),
        sa.Column("from_version", sa.String(64), nullable=False),
        sa.Column("to_version", sa.String(64), nullable=False),
        sa.Column("minor", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("operation_id", sa.String(512)),
        sa.Column("operation_data", sa.JSON),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("polls", sa.Integer, nullable=False),
        sa.Column("provider_calls", sa.Integer, nullable=False),
        sa.Column("next_action_at", TZ),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("started_at", TZ),
        sa.Column("finished_at", TZ),
    )
    op.create_index("ix_steps_run_cluster", "steps", ["run_id", "cluster_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("cluster_id", sa.String(512), index=True),
        sa.Column("step_key", sa.String(300)),
        sa.Column("operation_id", sa.String(512)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON),
    )
    op.create_table("control", sa.Column("key", sa.String(128), primary_key=True), sa.Column("value", sa.JSON))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("renewed_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for t in ("leases", "control", "events", "steps", "run_clusters", "runs"):
        op.drop_table(t)
