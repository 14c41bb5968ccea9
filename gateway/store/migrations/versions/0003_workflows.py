"""Durable workflows: one run row per executed action (direction, lease, retry clock, report).

Revision ID: 0003_workflows
Revises: 0002_approvals
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_workflows"
down_revision = "0002_approvals"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workflow_runs",
        sa.Column("action_id", sa.String(36), sa.ForeignKey("actions.id"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(120), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        _ts("lease_expires_at", nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        sa.Column("report", sa.JSON(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("finished_at", nullable=True),
    )
    op.create_index("ix_workflow_runs_state", "workflow_runs", ["state"])
    op.create_index("ix_workflow_runs_next_attempt_at", "workflow_runs", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("workflow_runs")
