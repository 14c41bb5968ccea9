"""State shared by every worker and replica: rate-limit buckets and sign-in failure counts
(`shared_state`), and leases on the whole store such as the workflow sweeper's (`store_leases`).

Revision ID: 0007_shared_state
Revises: 0006_used_tokens
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_shared_state"
down_revision = "0006_used_tokens"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "shared_state",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        _ts("expires_at"),
    )
    op.create_index("ix_shared_state_expires_at", "shared_state", ["expires_at"])
    op.create_table(
        "store_leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        _ts("expires_at"),
        _ts("acquired_at"),
    )


def downgrade() -> None:
    op.drop_table("store_leases")
    op.drop_index("ix_shared_state_expires_at", table_name="shared_state")
    op.drop_table("shared_state")
