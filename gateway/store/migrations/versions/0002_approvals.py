"""Approval channels: portal users and sessions, notification outbox, used links, callbacks.

Also: approvals record when they were notified and escalated; a decision records its channel,
and an approver may decide again once the action changed (one decision per payload hash).

Revision ID: 0002_approvals
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_approvals"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(_ts("notified_at", nullable=True))
        batch.add_column(_ts("escalated_at", nullable=True))
    with op.batch_alter_table("approval_decisions") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=False, server_default="api"))
        batch.drop_constraint("uq_decision_approver", type_="unique")
        batch.create_unique_constraint(
            "uq_decision_approver", ["approval_id", "approver", "payload_hash"]
        )
    op.create_table(
        "portal_users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("slack_user_id", sa.String(40), nullable=True, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action_scopes", sa.JSON(), nullable=False),
        sa.Column("notify_group", sa.String(50), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _ts("created_at"),
        _ts("disabled_at", nullable=True),
    )
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("portal_users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
    )
    op.create_index("ix_portal_sessions_user_id", "portal_sessions", ["user_id"])
    op.create_table(
        "approval_notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("approval_id", sa.String(36), sa.ForeignKey("approvals.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ref", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        _ts("next_attempt_at"),
    )
    op.create_index(
        "ix_approval_notifications_approval_id", "approval_notifications", ["approval_id"]
    )
    op.create_index("ix_approval_notifications_status", "approval_notifications", ["status"])
    op.create_table(
        "consumed_links",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("approval_id", sa.String(36), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        _ts("consumed_at"),
    )
    op.create_index("ix_consumed_links_approval_id", "consumed_links", ["approval_id"])
    op.create_table(
        "action_callbacks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.String(36), sa.ForeignKey("actions.id"), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("registered_by", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_status", sa.String(24), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("next_attempt_at"),
        _ts("delivered_at", nullable=True),
    )
    op.create_index("ix_action_callbacks_action_id", "action_callbacks", ["action_id"])
    op.create_index("ix_action_callbacks_status", "action_callbacks", ["status"])


def downgrade() -> None:
    for table in (
        "action_callbacks",
        "consumed_links",
        "approval_notifications",
        "portal_sessions",
        "portal_users",
    ):
        op.drop_table(table)
    with op.batch_alter_table("approval_decisions") as batch:
        batch.drop_constraint("uq_decision_approver", type_="unique")
        batch.create_unique_constraint("uq_decision_approver", ["approval_id", "approver"])
        batch.drop_column("channel")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("escalated_at")
        batch.drop_column("notified_at")
