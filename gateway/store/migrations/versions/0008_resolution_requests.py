"""Human resolution of halts: the resolutions the API answered, the requests agents open on
their halts, the requests' notification outbox; labels record who decided and for which request;
portal users may hold the `resolver` scope.

Revision ID: 0008_resolution_requests
Revises: 0007_shared_state
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_resolution_requests"
down_revision = "0007_shared_state"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "resolutions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False, index=True),
        sa.Column("entity_type", sa.String(50), nullable=True, index=True),
        sa.Column("canonical_id", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("query_identity", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("calibration_version", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(32), nullable=False, index=True),
        _ts("created_at"),
    )
    op.create_index("ix_resolutions_created_at", "resolutions", ["created_at"])
    op.create_table(
        "resolution_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "resolution_id",
            sa.String(36),
            sa.ForeignKey("resolutions.id"),
            nullable=False,
            index=True,
        ),  # fmt: skip
        sa.Column("requested_by", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("choice", sa.String(16), nullable=True),
        sa.Column("canonical_id", sa.String(200), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("token_claims", sa.JSON(), nullable=True),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _ts("decided_at", nullable=True),
        _ts("notified_at", nullable=True),
        _ts("escalated_at", nullable=True),
        sa.Column("callback_url", sa.String(2000), nullable=True),
        sa.Column("callback_secret", sa.String(64), nullable=True),
        sa.Column("callback_status", sa.String(16), nullable=True, index=True),
        sa.Column("callback_attempts", sa.Integer(), nullable=False),
        _ts("callback_next_at", nullable=True),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_resolution_requests_idem"),
    )
    op.create_index("ix_resolution_requests_created_at", "resolution_requests", ["created_at"])
    op.create_table(
        "resolution_notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "request_id",
            sa.String(36),
            sa.ForeignKey("resolution_requests.id"),
            nullable=False,
            index=True,
        ),  # fmt: skip
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
    with op.batch_alter_table("labels") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("request_id", sa.String(36), nullable=True))
        batch.create_index("ix_labels_request_id", ["request_id"])
    with op.batch_alter_table("portal_users") as batch:
        batch.add_column(
            sa.Column("resolver", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_users") as batch:
        batch.drop_column("resolver")
    with op.batch_alter_table("labels") as batch:
        batch.drop_index("ix_labels_request_id")
        batch.drop_column("request_id")
        batch.drop_column("decided_by")
    op.drop_table("resolution_notifications")
    op.drop_index("ix_resolution_requests_created_at", "resolution_requests")
    op.drop_table("resolution_requests")
    op.drop_index("ix_resolutions_created_at", "resolutions")
    op.drop_table("resolutions")
