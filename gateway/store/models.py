"""Tables of the gateway's store: actions and their steps, approvals, audit, labels, keys, rollout.

Idempotency lives in the `actions` table itself: `(requested_by, idempotency_key)` is unique, so
two concurrent submissions of one key cannot both insert, whatever the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database (SQLite keeps no time zone: store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class OutboxMessage:
    """The columns of a notification outbox row: where it goes, and its delivery state."""

    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ref: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[Any]]
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: The person who holds the key; who last made or changed it (the creator at first), when.
    person_id: Mapped[str | None] = mapped_column(String(32), index=True)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime | None]


class Person(Base):
    """A human behind API keys and portal users: dual approval needs two of them."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Action(Base):
    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("requested_by", "idempotency_key", name="uq_actions_idem"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    action_type: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    requested_by: Mapped[str] = mapped_column(String(32), ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload_hash: Mapped[str] = mapped_column(String(64))
    target: Mapped[dict[str, Any]]
    params: Mapped[dict[str, Any]]
    context: Mapped[dict[str, Any]]
    risk: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[dict[str, Any]]
    flags: Mapped[list[Any]]
    summary: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    #: For a revert: the succeeded action it undoes (`POST /v1/actions/{id}/revert`).
    reverts: Mapped[str | None] = mapped_column(String(36), ForeignKey("actions.id"), index=True)

    steps: Mapped[list[WorkflowStep]] = relationship(
        back_populates="action", order_by="WorkflowStep.position", lazy="selectin"
    )
    approval: Mapped[Approval | None] = relationship(back_populates="action", lazy="selectin")


class UsedToken(Base):
    """A single-use resolution token that already named an action (its one use)."""

    __tablename__ = "used_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    action_id: Mapped[str] = mapped_column(String(36), ForeignKey("actions.id"))
    used_at: Mapped[datetime]


class WorkflowStep(Base):
    __tablename__ = "workflow_steps"
    __table_args__ = (UniqueConstraint("action_id", "position", name="uq_steps_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(String(36), ForeignKey("actions.id"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(100))
    compensation: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(24))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    #: A revert's step: the operation's own params (what it undoes, and the original result),
    #: and `expect`, what the original step left in the ERP, checked before the call.
    params: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    action: Mapped[Action] = relationship(back_populates="steps")


class Approval(Base):
    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    action_id: Mapped[str] = mapped_column(String(36), ForeignKey("actions.id"), unique=True)
    required: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), index=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]

    action: Mapped[Action] = relationship(back_populates="approval")
    decisions: Mapped[list[ApprovalDecision]] = relationship(
        back_populates="approval", order_by="ApprovalDecision.id", lazy="selectin"
    )


class ApprovalDecision(Base):
    """One approver's word on one version (payload hash) of an action."""

    __tablename__ = "approval_decisions"
    __table_args__ = (
        UniqueConstraint("approval_id", "approver", "payload_hash", name="uq_decision_approver"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[str] = mapped_column(String(36), ForeignKey("approvals.id"), index=True)
    approver: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    created_at: Mapped[datetime]

    approval: Mapped[Approval] = relationship(back_populates="decisions")


class AuditEntry(Base):
    """One link of the hash chain; `seq` is assigned under the `audit_head` row lock."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    action_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: How `hash` was made: None, plain SHA-256 (entries from before); "hmac-sha256", keyed.
    scheme: Mapped[str | None] = mapped_column(String(16))


class AuditHead(Base):
    """The chain's last link, one row (id 1): its lock serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class Label(Base):
    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(50), index=True)
    canonical_id: Mapped[str | None] = mapped_column(String(200))
    query: Mapped[dict[str, Any]]
    label: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(40))
    action_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    #: Who gave the label (`user:<id>`, `key:<id>`) and the resolution request it settled.
    decided_by: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)


class ResolutionRecord(Base):
    """One answer of `/v1/resolve`: the query, the decision and its top candidates.

    Its id is the token id of a `match` or `no_match` token (so an action's target finds the
    query it was resolved from), a fresh id for `ambiguous`; halts (`ambiguous`, `no_match`)
    are what a resolution request opens on and what the dashboard counts.
    """

    __tablename__ = "resolutions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    entity_type: Mapped[str | None] = mapped_column(String(50), index=True)
    canonical_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    query: Mapped[dict[str, Any]]
    candidates: Mapped[list[Any]]
    query_identity: Mapped[dict[str, Any]]
    model_version: Mapped[str] = mapped_column(String(100))
    calibration_version: Mapped[str] = mapped_column(String(100))
    holder: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)


class ResolutionRequest(Base):
    """An agent's request that a person settle a halted resolution (pick, new, cannot tell)."""

    __tablename__ = "resolution_requests"
    __table_args__ = (
        UniqueConstraint("requested_by", "idempotency_key", name="uq_resolution_requests_idem"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resolution_id: Mapped[str] = mapped_column(String(36), ForeignKey("resolutions.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(32), ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload_hash: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), index=True)
    choice: Mapped[str | None] = mapped_column(String(16))
    canonical_id: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    #: What the ERP said of the pick when it was re-read (e.g. the record is blocked).
    note: Mapped[str | None] = mapped_column(Text)
    token_claims: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    callback_secret: Mapped[str | None] = mapped_column(String(64))
    callback_status: Mapped[str | None] = mapped_column(String(16), index=True)
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_next_at: Mapped[datetime | None]

    resolution: Mapped[ResolutionRecord] = relationship()


class ResolutionNotification(OutboxMessage, Base):
    """Outbox of resolution-request messages (email, Slack): committed before it is sent."""

    __tablename__ = "resolution_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("resolution_requests.id"), index=True
    )


class RolloutState(Base):
    __tablename__ = "rollout_state"

    action_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(100))


class RolloutDrill(Base):
    """One rollback drill of an action type (`canon rollout drill`): the action and its revert
    run against a staging ERP, checked after each step. A promotion out of supervision needs a
    passing drill of the catalog entry's current steps (`steps_hash`)."""

    __tablename__ = "rollout_drills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_type: Mapped[str] = mapped_column(String(100), index=True)
    steps_hash: Mapped[str] = mapped_column(String(64))
    erp: Mapped[str] = mapped_column(String(300))
    passed: Mapped[bool]
    report: Mapped[dict[str, Any]]
    ran_by: Mapped[str] = mapped_column(String(100))
    ran_at: Mapped[datetime]


class PortalUser(Base):
    """A person who decides approvals in the portal, by email link or in Slack."""

    __tablename__ = "portal_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    slack_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    action_scopes: Mapped[list[Any]]
    notify_group: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    person_id: Mapped[str | None] = mapped_column(String(32), index=True)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime | None]
    #: Consecutive failed sign-ins; at the throttle's limit the account locks until unlocked.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_at: Mapped[datetime | None]
    #: Holds the `resolver` scope: settles resolution requests (picks the record an agent meant).
    resolver: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class PortalSession(Base):
    """A portal login; the cookie holds a secret whose SHA-256 is the id."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("portal_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApprovalNotification(OutboxMessage, Base):
    """Outbox of approval messages (email, Slack): committed before it is sent."""

    __tablename__ = "approval_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[str] = mapped_column(String(36), ForeignKey("approvals.id"), index=True)


class AdminNotice(OutboxMessage, Base):
    """Outbox of announcements of an admin's action on people, keys or portal users to the other
    admins (email, Slack): written in the transaction that made the change, sent after."""

    __tablename__ = "admin_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The audit entry announced, and what it says (kind, actor, data: never a secret).
    audit_seq: Mapped[int] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]]


class ConsumedLink(Base):
    """A used approval link (email): its token id, so that it never decides twice."""

    __tablename__ = "consumed_links"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    approval_id: Mapped[str] = mapped_column(String(36), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    consumed_at: Mapped[datetime]


class ActionCallback(Base):
    """A webhook an agent registered for its action's outcome (signed when delivered)."""

    __tablename__ = "action_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(String(36), ForeignKey("actions.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(64))
    registered_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_status: Mapped[str | None] = mapped_column(String(24))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class WorkflowRun(Base):
    """The durable state of an action's workflow: direction, lease and retry clock.

    A runner holds the lease (`owner`, until `lease_expires_at`) while it advances the workflow;
    `epoch` grows at every claim, so that a runner whose lease was taken over notices it at its
    next transition and stops. `report` keeps what a human must know when the run needs one.
    """

    __tablename__ = "workflow_runs"

    action_id: Mapped[str] = mapped_column(String(36), ForeignKey("actions.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    cause: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(120))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None]
    claims: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    report: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class SharedValue(Base):
    """One key of the state every worker and replica shares (gateway.shared_state): a rate-limit
    bucket or a sign-in failure count, as JSON, forgotten after `expires_at`."""

    __tablename__ = "shared_state"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class StoreLease(Base):
    """A named lease on the whole store (gateway.leases): the one process that may run a job."""

    __tablename__ = "store_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]
