"""safety gates: gate_evaluations, gate_overrides

Revision ID: 0002_gates
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_gates"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gate_evaluations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("cluster_id", sa.String(512), nullable=False),
        sa.Column("step_id", sa.Integer),
        sa.Column("step_key", sa.String(300)),
        sa.Column("gate", sa.String(100), nullable=False),
        sa.Column("gate_type", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON),
    )
    op.create_index("ix_gate_evaluations_cluster", "gate_evaluations", ["cluster_id", "id"])
    op.create_index("ix_gate_evaluations_step", "gate_evaluations", ["step_id"])
    op.create_table(
        "gate_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cluster_id", sa.String(512), nullable=False, index=True),
        sa.Column("gate", sa.String(100), nullable=False),
        sa.Column("until", TZ, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
        sa.Column("revoked_by", sa.String(128)),
    )


def downgrade() -> None:
    op.drop_table("gate_overrides")
    op.drop_table("gate_evaluations")
