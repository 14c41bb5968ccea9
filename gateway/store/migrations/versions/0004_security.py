"""Security hardening: people behind keys and portal users (who made or changed each account),
and portal sign-in failures and lockout.

Revision ID: 0004_security
Revises: 0003_workflows
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_security"
down_revision = "0003_workflows"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _ts("created_at"),
    )
    for table in ("api_keys", "portal_users"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("person_id", sa.String(32), nullable=True))
            batch.add_column(sa.Column("changed_by", sa.String(100), nullable=True))
            batch.add_column(_ts("changed_at", nullable=True))
            batch.create_index(f"ix_{table}_person_id", ["person_id"])
    with op.batch_alter_table("portal_users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(_ts("locked_at", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_users") as batch:
        batch.drop_column("locked_at")
        batch.drop_column("failed_logins")
    for table in ("api_keys", "portal_users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_person_id")
            batch.drop_column("changed_at")
            batch.drop_column("changed_by")
            batch.drop_column("person_id")
    op.drop_table("people")
