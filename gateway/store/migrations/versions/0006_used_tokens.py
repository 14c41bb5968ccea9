"""Single-use resolution tokens: the id of each one that already named an action.

Revision ID: 0006_used_tokens
Revises: 0005_revert_and_drills
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_used_tokens"
down_revision = "0005_revert_and_drills"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("action_id", sa.String(36), sa.ForeignKey("actions.id"), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("used_tokens")
