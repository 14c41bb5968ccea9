"""The approvals' clockwork: expire, escalate, notify, update Slack, call agents' webhooks.

`ApprovalOutbox.sweep()` is run periodically by the API process (and directly by tests). Every
message is first committed as a row of `approval_notifications` (or `action_callbacks`), then
claimed for a lease, sent, and marked sent or retried with backoff: a crash between sending
and marking re-sends (at least once), never loses a message. Escalation notifies the next
group (email) and channel (Slack) once a request has waited `escalate_after_seconds`;
expiry settles the request `expired` and nothing of it ever runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway import admin_notices, audit
from gateway.approvals import PENDING, may_decide
from gateway.approvals_desk import ApprovalDesk
from gateway.channels.email import DeliveryFailed, one_line, request_email
from gateway.channels.portal import active_user, user_principal
from gateway.store import Action, Approval
from gateway.store.models import ActionCallback, AdminNotice, ApprovalNotification, PortalUser
from gateway.views import action_view

TERMINAL = ("shadowed", "succeeded", "rejected", "expired", "failed", "compensated",
            "needs_attention")  # fmt: skip
MAX_ATTEMPTS = 5
LEASE = timedelta(seconds=60)
BATCH = 50
DEFAULT_LINK_TTL = timedelta(days=7)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    expired: int = 0
    escalated: int = 0
    queued: int = 0
    sent: int = 0
    failed: int = 0
    callbacks_sent: int = 0
    callbacks_failed: int = 0
    notices_sent: int = 0
    notices_failed: int = 0


@dataclass(frozen=True)
class _Note:
    id: int
    approval_id: str
    channel: str
    kind: str
    recipient: str
    user_id: str | None
    ref: dict[str, Any] | None
    attempts: int


def backoff(attempts: int) -> timedelta:
    """How long a failed delivery waits before its next attempt."""
    return timedelta(seconds=30 * 2 ** max(attempts - 1, 0))


class ApprovalOutbox:
    """Runs the time-driven part of approvals over the desk's store and channels."""

    def __init__(self, desk: ApprovalDesk) -> None:
        self.desk = desk
        self.store = desk.gateway.store
        self.clock = desk.gateway.clock

    def sweep(self) -> SweepReport:
        """One pass: expire, escalate, queue, send, deliver callbacks."""
        now = self.clock()
        expired = sum(self.desk.gateway.expire(i) for i in self._ids(self._due_expiry(now)))
        escalated = self._escalate(now)
        queued = self._queue_new(now) + self._queue_outcomes(now)
        notices_sent, notices_failed = self._admin_notices(now)  # admins hear of changes first
        sent, failed = self._dispatch(now)
        cb_sent, cb_failed = self._callbacks(now)
        return SweepReport(expired, escalated, queued, sent, failed, cb_sent, cb_failed,
                           notices_sent, notices_failed)  # fmt: skip

    def _ids(self, query: Any) -> list[str]:
        with self.store.transaction() as session:
            return [str(i) for i in session.scalars(query.limit(500))]

    @staticmethod
    def _due_expiry(now: datetime) -> Any:
        return select(Approval.id).where(Approval.status == PENDING, Approval.expires_at <= now)

    # -- queueing --------------------------------------------------------------------------
    def _recipients(self, session: Session, action_type: str, group: str) -> list[PortalUser]:
        users = session.scalars(
            select(PortalUser)
            .where(
                PortalUser.notify_group == group,
                PortalUser.email.is_not(None),
                PortalUser.disabled_at.is_(None),
            )
            .order_by(PortalUser.username)
        ).all()
        return [u for u in users if may_decide(user_principal(u), action_type)]

    def _queue(self, session: Session, approval: Approval, kind: str, now: datetime) -> list[str]:
        rules, channels = self.desk.rules, self.desk.channels
        escalation = kind == "escalation"
        group = rules.escalation_group if escalation else rules.notify_group
        rows: list[ApprovalNotification] = []
        if channels.mailer is not None:
            for user in self._recipients(session, approval.action.action_type, group):
                rows.append(self._row(approval, "email", kind, str(user.email), user.id, now))
        slack = channels.slack
        if slack is not None:
            channel = (slack.escalation_channel or slack.channel) if escalation else slack.channel
            rows.append(self._row(approval, "slack", kind, channel, None, now))
        session.add_all(rows)
        return [f"{r.channel}:{r.recipient}" for r in rows]

    @staticmethod
    def _row(
        approval: Approval, channel: str, kind: str, recipient: str, user: str | None, now: datetime
    ) -> ApprovalNotification:
        return ApprovalNotification(
            approval_id=approval.id, channel=channel, kind=kind, recipient=recipient,
            user_id=user, status="pending", attempts=0, created_at=now, next_attempt_at=now,
        )  # fmt: skip

    def _queue_new(self, now: datetime) -> int:
        query = select(Approval.id).where(
            Approval.status == PENDING, Approval.notified_at.is_(None)
        )
        queued = 0
        for approval_id in self._ids(query):
            with self.store.transaction() as session:
                approval = session.get_one(Approval, approval_id, with_for_update=True)
                if approval.notified_at is not None or approval.status != PENDING:
                    continue
                approval.notified_at = now
                recipients = self._queue(session, approval, "request", now)
                audit.append(session, "approval.notified", {"recipients": recipients},
                             action_id=approval.action_id, actor="gateway", now=now)  # fmt: skip
                queued += len(recipients)
        return queued

    def _escalate(self, now: datetime) -> int:
        after = self.desk.rules.escalate_after_seconds
        if after is None:
            return 0
        query = select(Approval.id).where(
            Approval.status == PENDING,
            Approval.escalated_at.is_(None),
            Approval.created_at <= now - timedelta(seconds=after),
        )
        escalated = 0
        for approval_id in self._ids(query):
            with self.store.transaction() as session:
                approval = session.get_one(Approval, approval_id, with_for_update=True)
                if approval.escalated_at is not None or approval.status != PENDING:
                    continue
                approval.escalated_at = now
                recipients = self._queue(session, approval, "escalation", now)
                audit.append(session, "approval.escalated",
                             {"group": self.desk.rules.escalation_group, "recipients": recipients,
                              "expires_at": approval.expires_at.isoformat()
                              if approval.expires_at else None},
                             action_id=approval.action_id, actor="gateway", now=now)  # fmt: skip
                escalated += 1
        return escalated

    def _queue_outcomes(self, now: datetime) -> int:
        """Settled requests whose Slack messages still show buttons get an outcome update."""
        posted = select(ApprovalNotification.approval_id).where(
            ApprovalNotification.channel == "slack",
            ApprovalNotification.kind.in_(["request", "escalation"]),
            ApprovalNotification.status == "sent",
        )
        updated = select(ApprovalNotification.approval_id).where(
            ApprovalNotification.kind == "outcome"
        )
        query = select(Approval.id).where(
            Approval.status != PENDING, Approval.id.in_(posted), Approval.id.not_in(updated)
        )
        queued = 0
        for approval_id in self._ids(query):
            with self.store.transaction() as session:
                messages = session.scalars(posted.with_only_columns(ApprovalNotification).where(
                    ApprovalNotification.approval_id == approval_id)).all()  # fmt: skip
                for message in messages:
                    session.add(ApprovalNotification(
                        approval_id=approval_id, channel="slack", kind="outcome",
                        recipient=message.recipient, status="pending", attempts=0,
                        ref=message.ref, created_at=now, next_attempt_at=now,
                    ))  # fmt: skip
                    queued += 1
        return queued

    # -- sending ---------------------------------------------------------------------------
    def _dispatch(self, now: datetime) -> tuple[int, int]:
        with self.store.transaction() as session:
            due = session.scalars(
                select(ApprovalNotification)
                .where(ApprovalNotification.status == "pending",
                       ApprovalNotification.next_attempt_at <= now)
                .order_by(ApprovalNotification.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()  # fmt: skip
            notes = []
            for row in due:  # claimed for a lease: a concurrent sweep leaves them alone
                row.attempts, row.next_attempt_at = row.attempts + 1, now + LEASE
                notes.append(_Note(row.id, row.approval_id, row.channel, row.kind,
                                   row.recipient, row.user_id, row.ref, row.attempts))  # fmt: skip
        sent = failed = 0
        for note in notes:
            try:
                status, ref = self._deliver(note, now)
            except DeliveryFailed as e:
                self._mark_failed(note, e.message, now)
                failed += 1
                continue
            self._mark(note, status, ref, now)
            sent += status == "sent"
        return sent, failed

    def _deliver(self, note: _Note, now: datetime) -> tuple[str, dict[str, Any] | None]:
        view = self.desk.detail_of(note.approval_id)
        channels = self.desk.channels
        if note.kind != "outcome" and view.status != PENDING:
            return "skipped", None
        if note.channel == "slack":
            if channels.slack is None:
                raise DeliveryFailed("Slack is not configured")
            if note.kind == "outcome":
                channels.slack.update_outcome(note.ref or {}, view)
                return "sent", note.ref
            ref = channels.slack.post_request(note.recipient, view, note.kind == "escalation")
            return "sent", ref
        if channels.mailer is None:
            raise DeliveryFailed("email is not configured")
        with self.store.transaction() as session:
            user = active_user(session, note.user_id or "")
            name = user.display_name if user is not None else ""
        if user is None:
            return "skipped", None
        expires = view.expires_at or now + DEFAULT_LINK_TTL
        approve_url, reject_url = self.desk.link_urls(view.id, view.payload_hash, user.id, expires)
        message = request_email(
            view, sender=channels.mailer.sender, to=note.recipient, recipient_name=name,
            approve_url=approve_url, reject_url=reject_url,
            portal_url=f"{self.desk.public_url}/portal/approvals/{view.id}",
            escalation=note.kind == "escalation",
        )  # fmt: skip
        channels.mailer.send(message)
        return "sent", {"message_id": str(message["Message-ID"])}

    def _mark(self, note: _Note, status: str, ref: dict[str, Any] | None, now: datetime) -> None:
        with self.store.transaction() as session:
            row = session.get_one(ApprovalNotification, note.id)
            row.status, row.ref, row.sent_at, row.error = status, ref, now, None
            approval = session.get_one(Approval, note.approval_id)
            audit.append(session, f"notification.{status}",
                         {"channel": note.channel, "kind": note.kind, "recipient": note.recipient},
                         action_id=approval.action_id, actor="gateway", now=now)  # fmt: skip

    def _mark_failed(self, note: _Note, error: str, now: datetime) -> None:
        with self.store.transaction() as session:
            row = session.get_one(ApprovalNotification, note.id)
            final = note.attempts >= MAX_ATTEMPTS
            row.error, row.status = error, "failed" if final else "pending"
            row.next_attempt_at = now + backoff(note.attempts)
            approval = session.get_one(Approval, note.approval_id)
            audit.append(session, "notification.failed",
                         {"channel": note.channel, "kind": note.kind, "recipient": note.recipient,
                          "attempt": note.attempts, "final": final, "error": error},
                         action_id=approval.action_id, actor="gateway", now=now)  # fmt: skip

    # -- webhooks --------------------------------------------------------------------------
    def _callbacks(self, now: datetime) -> tuple[int, int]:
        sender = self.desk.channels.webhooks
        if sender is None:
            return 0, 0
        with self.store.transaction() as session:
            due = session.execute(
                select(ActionCallback, Action)
                .join(Action, ActionCallback.action_id == Action.id)
                .where(ActionCallback.status == "waiting", ActionCallback.next_attempt_at <= now,
                       Action.status.in_(TERMINAL))
                .order_by(ActionCallback.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=ActionCallback)
            ).tuples().all()  # fmt: skip
            work = []
            for callback, action in due:
                callback.attempts, callback.next_attempt_at = callback.attempts + 1, now + LEASE
                body = {"event": "action.outcome", "at": now.isoformat(),
                        "action": action_view(action).model_dump(mode="json")}  # fmt: skip
                work.append((callback.id, callback.url, callback.secret, callback.attempts,
                             action.id, action.status, body))  # fmt: skip
        sent = failed = 0
        for cb_id, url, secret, attempts, action_id, status, body in work:
            try:
                sender.send(url, secret, body, int(now.timestamp()))
                error = None
            except DeliveryFailed as e:
                error = e.message
            with self.store.transaction() as session:
                row = session.get_one(ActionCallback, cb_id)
                if error is None:
                    row.status, row.delivered_status, row.delivered_at = "delivered", status, now
                    sent += 1
                else:
                    row.last_error, failed = error, failed + 1
                    row.status = "failed" if attempts >= MAX_ATTEMPTS else "waiting"
                    row.next_attempt_at = now + backoff(attempts)
                audit.append(session, "callback.delivered" if error is None else "callback.failed",
                             {"callback_id": cb_id, "url": url, "status": status,
                              "attempt": attempts, "error": error},
                             action_id=action_id, actor="gateway", now=now)  # fmt: skip
        return sent, failed

    # -- admin notices ---------------------------------------------------------------------
    def _admin_notices(self, now: datetime) -> tuple[int, int]:
        """Send the announcements of admin actions to the other admins (gateway.admin_notices)."""
        with self.store.transaction() as session:
            due = session.scalars(
                select(AdminNotice)
                # A fresh notice is due at once (it may be stamped by another clock).
                .where(AdminNotice.status == "pending",
                       or_(AdminNotice.attempts == 0, AdminNotice.next_attempt_at <= now))
                .order_by(AdminNotice.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()  # fmt: skip
            work = []
            for row in due:  # claimed for a lease
                row.attempts, row.next_attempt_at = row.attempts + 1, now + LEASE
                work.append((row.id, row.channel, row.recipient, row.details, row.attempts))
        sent = failed = 0
        for notice_id, channel, recipient, details, attempts in work:
            error = status = None
            try:
                status, ref = self._send_notice(channel, recipient, details)
            except DeliveryFailed as e:
                error, ref = e.message, None
            with self.store.transaction() as session:
                row = session.get_one(AdminNotice, notice_id)
                if error is None:
                    row.status, row.ref, row.sent_at, row.error = status or "sent", ref, now, None
                    sent += status == "sent"
                else:
                    final = attempts >= MAX_ATTEMPTS
                    row.error, row.status = error, "failed" if final else "pending"
                    row.next_attempt_at = now + backoff(attempts)
                    failed += 1
                if status != "skipped":
                    audit.append(session, "admin_notice.sent" if error is None
                                 else "admin_notice.failed",
                                 {"notice_id": notice_id, "channel": channel,
                                  "recipient": recipient, "announces": row.audit_seq,
                                  "attempt": attempts, "error": error},
                                 actor="gateway", now=now)  # fmt: skip
        return sent, failed

    def _send_notice(
        self, channel: str, recipient: str, details: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None]:
        channels = self.desk.channels
        if channel == admin_notices.SLACK:
            if channels.slack is None:
                return "skipped", None  # Slack is not configured: nobody to tell there
            text = admin_notices.summary(details)  # plain_text block: Slack renders no markup
            blocks = [{"type": "section",
                       "text": {"type": "plain_text", "text": one_line(text, 2900),
                                "emoji": False}}]  # fmt: skip
            return "sent", channels.slack.post(channels.slack.channel, text, blocks)
        if channels.mailer is None:
            return "skipped", None  # no SMTP configured: the audit entry stays the record
        message = EmailMessage()
        message["Subject"] = one_line(admin_notices.summary(details))
        message["From"] = channels.mailer.sender
        message["To"] = recipient
        message["Message-ID"] = make_msgid(domain="canon.local")
        message.set_content(admin_notices.body(details))  # plain text only: no markup to inject
        channels.mailer.send(message)
        return "sent", {"message_id": str(message["Message-ID"])}
