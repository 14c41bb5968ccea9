"""Admin actions on people announced to the other admins (an outbox); each audit entry names
the scheme of its hash (NULL: plain SHA-256, as before; `hmac-sha256`: keyed outside the store).

Revision ID: 0009_admin_notices_audit_hmac
Revises: 0008_resolution_requests
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_admin_notices_audit_hmac"
down_revision = "0008_resolution_requests"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "admin_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("audit_seq", sa.Integer(), nullable=False, index=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ref", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        _ts("next_attempt_at"),
    )
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("scheme", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("scheme")
    op.drop_table("admin_notices")
