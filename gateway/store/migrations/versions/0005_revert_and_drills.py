"""Rollback as a feature: a revert's link to the action it undoes, a revert step's own params,
and the rollback drills of each action type.

Revision ID: 0005_revert_and_drills
Revises: 0004_security
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_revert_and_drills"
down_revision = "0004_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("reverts", sa.String(36), nullable=True))
        batch.create_foreign_key("fk_actions_reverts", "actions", ["reverts"], ["id"])
        batch.create_index("ix_actions_reverts", ["reverts"])
    with op.batch_alter_table("workflow_steps") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))
    op.create_table(
        "rollout_drills",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("action_type", sa.String(100), nullable=False),
        sa.Column("steps_hash", sa.String(64), nullable=False),
        sa.Column("erp", sa.String(300), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("ran_by", sa.String(100), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rollout_drills_action_type", "rollout_drills", ["action_type"])


def downgrade() -> None:
    op.drop_table("rollout_drills")
    with op.batch_alter_table("workflow_steps") as batch:
        batch.drop_column("params")
    with op.batch_alter_table("actions") as batch:
        batch.drop_index("ix_actions_reverts")
        batch.drop_constraint("fk_actions_reverts", type_="foreignkey")
        batch.drop_column("reverts")
