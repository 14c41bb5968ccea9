"""`ResolutionDesk`: resolution requests on every channel (API, portal, email link, Slack, MCP).

It rides on the `ApprovalDesk`: the same gateway (store, ERP connector, signer, clock, audit),
channels (mailer, Slack, webhooks), portal users and their Slack mapping, refusal log and link
keys (under their own salt). A decision is committed (with the link's consumption) before the
agent can read its token; a pick is re-read from the ERP first. `sweep()` expires, escalates,
notifies (outbox: committed, then sent with retries) and calls agents' webhooks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.approvals_desk import ApprovalDesk, SlackReply
from gateway.approvals_outbox import BATCH, DEFAULT_LINK_TTL, LEASE, MAX_ATTEMPTS, backoff
from gateway.channels import links as link_tokens
from gateway.channels.email import DeliveryFailed
from gateway.channels.links import RESOLUTION_SALT, LinkClaims, LinkSigner
from gateway.channels.portal import active_user
from gateway.channels.resolution_messages import (
    ResolutionClick,
    outcome_blocks,
    resolution_blocks,
    resolution_email,
    summary_line,
)
from gateway.channels.webhook import check_url
from gateway.errors import ActionNotFound, Forbidden, GatewayError, InvalidParams
from gateway.keys import Principal, Role
from gateway.resolutions import (
    PENDING,
    RESOLVER_SCOPE,
    OpenRequest,
    ResolutionRefused,
    ResolutionRequestView,
    ResolveDecision,
    check_decision,
    check_record,
    expire,
    may_resolve,
    open_request,
    record_decision,
    request_hash,
    request_view,
)
from gateway.service import Gateway
from gateway.store.models import (
    PortalUser,
    ResolutionNotification,
    ResolutionRecord,
    ResolutionRequest,
)

STATUSES = ("pending", "decided", "expired", "all")
CHOICE_LABELS = {"new": "None of these — it is new", "cannot_tell": "Cannot tell"}


@dataclass(frozen=True)
class Registered:
    """A new (or replayed) request, and its webhook secret (shown once, at creation)."""

    view: ResolutionRequestView
    callback_secret: str | None


@dataclass(frozen=True)
class ResolutionLinkPage:
    """What a resolution link's confirmation page shows."""

    claims: LinkClaims
    view: ResolutionRequestView
    reviewer: str
    used: bool


class ResolutionDesk:
    """Opening, listing, showing and settling resolution requests."""

    def __init__(self, approvals: ApprovalDesk, ttl_seconds: int | None = 7 * 24 * 3600) -> None:
        self.approvals = approvals
        self.gateway: Gateway = approvals.gateway
        self.links = LinkSigner(self.gateway.signer.keys, salt=RESOLUTION_SALT)
        self.ttl = timedelta(seconds=ttl_seconds) if ttl_seconds else None
        approvals.resolution_clicks = self.slack_decide

    # -- opening ---------------------------------------------------------------------------
    def open(self, principal: Principal, body: OpenRequest) -> Registered:
        """Open a request on one of this agent's halts (idempotent per idempotency key)."""
        gateway = self.gateway
        try:
            if body.callback_url is not None:
                sender = self.approvals.channels.webhooks
                if sender is None:
                    check_url(body.callback_url)
                else:
                    check_url(body.callback_url, sender.policy, sender.resolve)
            resolution_id = body.resolution_id
            if body.resolution_token is not None:
                claims = gateway.signer.read(body.resolution_token, bound_to=principal.key_id)
                resolution_id = claims.token_id
            with gateway.store.transaction() as session:
                resolution = session.get(ResolutionRecord, str(resolution_id))
                if resolution is None or resolution.holder != principal.key_id:
                    raise ActionNotFound(f"no resolution {resolution_id}", field="resolution_id")
                request, replayed = open_request(
                    session, principal, body, resolution, gateway.clock(), self.ttl
                )
                secret = None
                if not replayed and body.callback_url:
                    secret = request.callback_secret = secrets.token_hex(32)
                view = request_view(request, gateway.signer)
        except GatewayError as e:
            detail = {"resolution_id": body.resolution_id, "idempotency_key": body.idempotency_key}
            gateway.record_refusal(principal, "resolution.refused", e, detail)
            raise
        return Registered(view.model_copy(update={"replayed": replayed}), secret)

    # -- reading ---------------------------------------------------------------------------
    def list_requests(
        self, principal: Principal, status: str = "pending", limit: int = 100, offset: int = 0
    ) -> list[ResolutionRequestView]:
        """Requests, newest first: resolvers see all, agents their own."""
        query = select(ResolutionRequest)
        if not may_resolve(principal) and principal.role is not Role.ADMIN:
            query = query.where(ResolutionRequest.requested_by == principal.key_id)
        if status != "all":
            query = query.where(ResolutionRequest.status == status)
        query = query.order_by(ResolutionRequest.created_at.desc(), ResolutionRequest.id)
        with self.gateway.store.transaction() as session:
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [self._view(r, principal) for r in rows]

    def _view(self, request: ResolutionRequest, principal: Principal) -> ResolutionRequestView:
        mine = principal.key_id == request.requested_by
        return request_view(request, self.gateway.signer if mine else None)

    def _load(self, session: Session, request_id: str, principal: Principal) -> ResolutionRequest:
        request = session.get(ResolutionRequest, request_id)
        if request is None or not (
            may_resolve(principal)
            or principal.role is Role.ADMIN
            or request.requested_by == principal.key_id
        ):
            raise ActionNotFound(f"no resolution request {request_id}", field="id")
        return request

    def get(self, principal: Principal, request_id: str) -> ResolutionRequestView:
        """One request; its requester sees the token once a person has decided."""
        with self.gateway.store.transaction() as session:
            return self._view(self._load(session, request_id, principal), principal)

    def detail_of(self, request_id: str) -> ResolutionRequestView:
        """A request for a channel that already authorised its reader (no token)."""
        with self.gateway.store.transaction() as session:
            request = session.get(ResolutionRequest, request_id)
            if request is None:
                raise ActionNotFound(f"no resolution request {request_id}", field="id")
            return request_view(request)

    # -- deciding --------------------------------------------------------------------------
    def decide(
        self,
        principal: Principal,
        request_id: str,
        decision: ResolveDecision,
        *,
        channel: str = "api",
        link: LinkClaims | None = None,
    ) -> ResolutionRequestView:
        """Settle a request: checked, the pick re-read from the ERP, committed and audited."""
        gateway = self.gateway
        try:
            note = ""
            if not may_resolve(principal):
                raise Forbidden("settling resolution requests needs the `resolver` scope")
            with gateway.store.transaction() as session:
                request = self._load(session, request_id, principal)
                check_decision(request, principal, decision, gateway.clock())
                entity_type = str(request.resolution.entity_type or "")
            if decision.choice == "pick" and decision.canonical_id is not None:
                record = gateway.connector.read_record(entity_type, decision.canonical_id)
                with gateway.store.transaction() as session:
                    note = check_record(
                        session.get_one(ResolutionRequest, request_id), decision.canonical_id,
                        record,
                    )  # fmt: skip
            with gateway.store.transaction() as session:
                request = session.execute(
                    select(ResolutionRequest)
                    .where(ResolutionRequest.id == request_id)
                    .with_for_update()
                ).scalar_one()
                now = gateway.clock()
                if link is not None:
                    link_tokens.consume(session, link, principal.actor, now)
                record_decision(session, request, principal, decision, now, gateway.signer,
                                channel, note)  # fmt: skip
                return request_view(request)
        except GatewayError as e:
            detail = {"request_id": request_id, "channel": channel, "choice": decision.choice}
            gateway.record_refusal(principal, "resolution.refused", e, detail)
            if isinstance(e, ResolutionRefused):
                self.expire(request_id)
            raise

    def expire(self, request_id: str) -> bool:
        """Settle a request past its expiry as `expired`; False when it is not due."""
        with self.gateway.store.transaction() as session:
            request = session.execute(
                select(ResolutionRequest)
                .where(ResolutionRequest.id == request_id)
                .with_for_update()
            ).scalar_one_or_none()
            return request is not None and expire(session, request, self.gateway.clock())

    # -- email links -----------------------------------------------------------------------
    def _claims(self, token: str) -> tuple[LinkClaims, Principal]:
        return self.approvals.link_claims(token, self.links, scope=RESOLVER_SCOPE)

    def open_link(self, token: str) -> ResolutionLinkPage:
        """Verify a link and show what it would decide (GET: decides nothing)."""
        claims, principal = self._claims(token)
        with self.gateway.store.transaction() as session:
            used = link_tokens.is_consumed(session, claims.token_id)
        return ResolutionLinkPage(claims, self.detail_of(claims.approval_id), principal.name, used)

    def decide_by_link(self, token: str, comment: str = "") -> ResolutionRequestView:
        """Decide what a link proposes, once (POST from the confirmation page)."""
        claims, principal = self._claims(token)
        return self.decide(principal, claims.approval_id,
                           decision_of(claims.choice, claims.payload_hash, comment),
                           channel="email", link=claims)  # fmt: skip

    def link_urls(
        self, view: ResolutionRequestView, user_id: str, expires_at: datetime
    ) -> list[tuple[str, str]]:
        """One signed URL per choice for one recipient (one token id: one use among them)."""
        jti = secrets.token_urlsafe(16)
        choices = [(f"Pick {c.canonical_id}", c.canonical_id) for c in view.candidates]
        choices += [(label, choice) for choice, label in CHOICE_LABELS.items()]
        urls = []
        for label, choice in choices:
            token = self.links.issue(approval_id=view.id, payload_hash=view.payload_hash,
                                     user_id=user_id, decision=choice, expires_at=expires_at,
                                     token_id=jti)  # fmt: skip
            urls.append(
                (label, f"{self.approvals.public_url}/portal/resolutions/email?token={token}")
            )
        return urls

    # -- Slack -----------------------------------------------------------------------------
    def slack_decide(self, principal: Principal, click: ResolutionClick) -> SlackReply:
        """A verified click of a known portal user (the approval desk verified and mapped it)."""
        choice = click.canonical_id if click.choice == "pick" else click.choice
        try:
            view = self.decide(principal, click.request_id,
                               decision_of(str(choice), click.payload_hash, ""),
                               channel="slack")  # fmt: skip
        except GatewayError as e:
            return SlackReply(False, f"Not recorded: {e.message}")
        told = view.canonical_id or view.choice
        return SlackReply(
            True, f"Recorded: {told}." + (f" Note: {view.note}." if view.note else "")
        )

    # -- the sweep -------------------------------------------------------------------------
    def sweep(self) -> dict[str, int]:
        """Expire, escalate, queue and send notifications, call webhooks; counts of each."""
        now = self.gateway.clock()
        due = select(ResolutionRequest.id).where(
            ResolutionRequest.status == PENDING, ResolutionRequest.expires_at <= now
        )
        expired = sum(self.expire(i) for i in self._ids(due))
        escalated = self._escalate(now)
        queued = self._queue_new(now) + self._queue_outcomes(now)
        sent, failed = self._dispatch(now)
        called = self._callbacks(now)
        return {"expired": expired, "escalated": escalated, "queued": queued, "sent": sent,
                "failed": failed, "callbacks": called}  # fmt: skip

    def _ids(self, query: Any) -> list[str]:
        with self.gateway.store.transaction() as session:
            return [str(i) for i in session.scalars(query.limit(500))]

    def _recipients(self, session: Session, group: str) -> list[PortalUser]:
        return list(session.scalars(
            select(PortalUser).where(
                PortalUser.notify_group == group, PortalUser.email.is_not(None),
                PortalUser.disabled_at.is_(None), PortalUser.resolver.is_(True),
            ).order_by(PortalUser.username)
        ))  # fmt: skip

    def _queue(self, session: Session, request: ResolutionRequest, kind: str, now: datetime) -> int:
        rules, channels = self.approvals.rules, self.approvals.channels
        escalation = kind == "escalation"
        group = rules.escalation_group if escalation else rules.notify_group
        rows = []
        if channels.mailer is not None:
            for user in self._recipients(session, group):
                rows.append(_note(request.id, "email", kind, str(user.email), user.id, now))
        if channels.slack is not None:
            slack = channels.slack
            channel = (slack.escalation_channel or slack.channel) if escalation else slack.channel
            rows.append(_note(request.id, "slack", kind, channel, None, now))
        session.add_all(rows)
        audit.append(session, f"resolution.{'escalated' if escalation else 'notified'}",
                     {"request_id": request.id,
                      "recipients": [f"{r.channel}:{r.recipient}" for r in rows]},
                     actor="gateway", now=now)  # fmt: skip
        return len(rows)

    def _queue_new(self, now: datetime) -> int:
        query = select(ResolutionRequest.id).where(
            ResolutionRequest.status == PENDING, ResolutionRequest.notified_at.is_(None)
        )
        queued = 0
        for request_id in self._ids(query):
            with self.gateway.store.transaction() as session:
                request = session.get_one(ResolutionRequest, request_id, with_for_update=True)
                if request.notified_at is None and request.status == PENDING:
                    request.notified_at = now
                    queued += self._queue(session, request, "request", now)
        return queued

    def _escalate(self, now: datetime) -> int:
        after = self.approvals.rules.escalate_after_seconds
        if after is None:
            return 0
        query = select(ResolutionRequest.id).where(
            ResolutionRequest.status == PENDING, ResolutionRequest.escalated_at.is_(None),
            ResolutionRequest.created_at <= now - timedelta(seconds=after),
        )  # fmt: skip
        escalated = 0
        for request_id in self._ids(query):
            with self.gateway.store.transaction() as session:
                request = session.get_one(ResolutionRequest, request_id, with_for_update=True)
                if request.escalated_at is None and request.status == PENDING:
                    request.escalated_at = now
                    self._queue(session, request, "escalation", now)
                    escalated += 1
        return escalated

    def _queue_outcomes(self, now: datetime) -> int:
        posted = select(ResolutionNotification).where(
            ResolutionNotification.channel == "slack", ResolutionNotification.status == "sent",
            ResolutionNotification.kind.in_(["request", "escalation"]),
        )  # fmt: skip
        updated = select(ResolutionNotification.request_id).where(
            ResolutionNotification.kind == "outcome"
        )
        queued = 0
        with self.gateway.store.transaction() as session:
            for message in session.scalars(
                posted.join(ResolutionRequest)
                .where(ResolutionRequest.status != PENDING)
                .where(ResolutionNotification.request_id.not_in(updated))
                .limit(BATCH)
            ).all():
                row = _note(message.request_id, "slack", "outcome", message.recipient, None, now)
                row.ref = message.ref
                session.add(row)
                queued += 1
        return queued

    def _dispatch(self, now: datetime) -> tuple[int, int]:
        with self.gateway.store.transaction() as session:
            due = session.scalars(
                select(ResolutionNotification)
                .where(ResolutionNotification.status == "pending",
                       ResolutionNotification.next_attempt_at <= now)
                .order_by(ResolutionNotification.id).limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()  # fmt: skip
            notes = []
            for row in due:
                row.attempts, row.next_attempt_at = row.attempts + 1, now + LEASE
                notes.append((row.id, row.request_id, row.channel, row.kind, row.recipient,
                              row.user_id, row.ref, row.attempts))  # fmt: skip
        sent = failed = 0
        for note_id, request_id, channel, kind, recipient, user_id, ref, attempts in notes:
            try:
                status, new_ref = self._deliver(request_id, channel, kind, recipient, user_id,
                                                ref, now)  # fmt: skip
                error = None
            except DeliveryFailed as e:
                status, new_ref, error = "pending", ref, e.message
            with self.gateway.store.transaction() as session:
                row = session.get_one(ResolutionNotification, note_id)
                row.ref, row.error = new_ref, error
                if error is None:
                    row.status, row.sent_at = status, now
                    sent += status == "sent"
                else:
                    failed += 1
                    row.status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
                    row.next_attempt_at = now + backoff(attempts)
                audit.append(session, f"notification.{'failed' if error else status}",
                             {"request_id": request_id, "channel": channel, "kind": kind,
                              "recipient": recipient, "error": error},
                             actor="gateway", now=now)  # fmt: skip
        return sent, failed

    def _deliver(
        self, request_id: str, channel: str, kind: str, recipient: str, user_id: str | None,
        ref: dict[str, Any] | None, now: datetime,
    ) -> tuple[str, dict[str, Any] | None]:  # fmt: skip
        view = self.detail_of(request_id)
        channels, public = self.approvals.channels, self.approvals.public_url
        if kind != "outcome" and view.status != PENDING:
            return "skipped", None
        if channel == "slack":
            if channels.slack is None:
                raise DeliveryFailed("Slack is not configured")
            if kind == "outcome":
                text = f"{view.status}: {summary_line(view)}"
                channels.slack.update(ref or {}, text, outcome_blocks(view))
                return "sent", ref
            blocks = resolution_blocks(view, public, kind == "escalation")
            return "sent", channels.slack.post(recipient, summary_line(view), blocks)
        if channels.mailer is None:
            raise DeliveryFailed("email is not configured")
        with self.gateway.store.transaction() as session:
            user = active_user(session, user_id or "")
            name = user.display_name if user is not None else ""
        if user is None:
            return "skipped", None
        urls = self.link_urls(view, user.id, view.expires_at or now + DEFAULT_LINK_TTL)
        message = resolution_email(view, sender=channels.mailer.sender, to=recipient,
                                   recipient_name=name, choice_urls=urls,
                                   portal_url=f"{public}/portal/resolutions/{view.id}",
                                   escalation=kind == "escalation")  # fmt: skip
        channels.mailer.send(message)
        return "sent", {"message_id": str(message["Message-ID"])}

    def _callbacks(self, now: datetime) -> int:
        sender = self.approvals.channels.webhooks
        if sender is None:
            return 0
        with self.gateway.store.transaction() as session:
            due = session.scalars(
                select(ResolutionRequest)
                .where(ResolutionRequest.callback_status == "waiting",
                       ResolutionRequest.status != PENDING,
                       ResolutionRequest.callback_next_at <= now)
                .limit(BATCH).with_for_update(skip_locked=True)
            ).all()  # fmt: skip
            work = []
            for request in due:
                request.callback_attempts += 1
                request.callback_next_at = now + LEASE
                body = {"event": "resolution.decided", "at": now.isoformat(),
                        "request": request_view(request, self.gateway.signer).model_dump(
                            mode="json")}  # fmt: skip
                work.append((request.id, str(request.callback_url), str(request.callback_secret),
                             request.callback_attempts, body))  # fmt: skip
        delivered = 0
        for request_id, url, secret, attempts, body in work:
            try:
                sender.send(url, secret, body, int(now.timestamp()))
                error = None
            except DeliveryFailed as e:
                error = e.message
            with self.gateway.store.transaction() as session:
                row = session.get_one(ResolutionRequest, request_id)
                if error is None:
                    row.callback_status, delivered = "delivered", delivered + 1
                else:
                    row.callback_status = "failed" if attempts >= MAX_ATTEMPTS else "waiting"
                    row.callback_next_at = now + backoff(attempts)
                audit.append(session, "callback.delivered" if error is None else "callback.failed",
                             {"request_id": request_id, "url": url, "attempt": attempts,
                              "error": error}, actor="gateway", now=now)  # fmt: skip
        return delivered


def decision_of(choice: str, seen_hash: str | None, comment: str) -> ResolveDecision:
    """A form's, link's or button's choice as a decision (a canonical id is a pick); a bad
    one is InvalidParams naming its field."""
    try:
        if choice in CHOICE_LABELS:
            return ResolveDecision.model_validate(
                {"choice": choice, "comment": comment, "payload_hash": seen_hash}
            )
        return ResolveDecision(choice="pick", canonical_id=choice, comment=comment,
                               payload_hash=seen_hash)  # fmt: skip
    except ValidationError as e:
        where = ".".join(str(p) for p in e.errors()[0]["loc"]) or "choice"
        raise InvalidParams(f"{where}: {e.errors()[0]['msg']}", field=where) from e


def _note(
    request_id: str, channel: str, kind: str, recipient: str, user_id: str | None, now: datetime
) -> ResolutionNotification:
    return ResolutionNotification(
        request_id=request_id, channel=channel, kind=kind, recipient=recipient, user_id=user_id,
        status="pending", attempts=0, created_at=now, next_attempt_at=now,
    )  # fmt: skip


__all__ = ["Registered", "ResolutionDesk", "ResolutionLinkPage", "decision_of", "request_hash"]
