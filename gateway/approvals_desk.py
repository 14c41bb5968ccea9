"""`ApprovalDesk`: approval requests as every channel reaches them (API, portal, email, Slack).

It wraps the `Gateway` (store, catalog, ERP connector, clock, audit): reading requests, and
turning what a channel delivers (an email link, a Slack click) into a decision, which
`Gateway.decide` records by the one set of rules of `gateway.approvals` whichever channel it
comes from; the decision (and, for an email link, the link's consumption) is committed before
the workflow it authorises runs.
Every decision and every refused attempt is audited: refusals of unauthenticated channels
(tampered links, forged Slack signatures) too, with no actor.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.approvals import may_decide
from gateway.approvals_views import (
    ApprovalDetailView,
    ApprovalRequestView,
    build_details,
    request_view,
)
from gateway.channels import links as link_tokens
from gateway.channels.email import Mailer
from gateway.channels.links import LinkClaims, LinkRefused, LinkSigner
from gateway.channels.portal import active_user, find_slack_user, user_principal
from gateway.channels.resolution_messages import ResolutionClick, parse_resolution_click
from gateway.channels.slack import Interaction, SlackChannel, SlackVerifier, parse_interaction
from gateway.channels.webhook import WebhookSender, check_url
from gateway.errors import ActionNotFound, ApprovalError, Forbidden, GatewayError
from gateway.keys import Principal, Role
from gateway.service import Gateway
from gateway.store import Action, Approval
from gateway.store.models import ActionCallback
from gateway.throttle import RefusalLog

STATUSES = ("pending", "approved", "rejected", "expired")
VIEWERS = (Role.APPROVER, Role.ADMIN, Role.STEWARD)


@dataclass(frozen=True)
class ApprovalRules:
    """When requests escalate and whom the channels notify."""

    escalate_after_seconds: int | None = 5 * 24 * 3600
    notify_group: str = "approvers"
    escalation_group: str = "escalation"


@dataclass
class Channels:
    """The configured ways of reaching approvers and agents (None: not configured)."""

    mailer: Mailer | None = None
    slack: SlackChannel | None = None
    slack_verifier: SlackVerifier | None = None
    webhooks: WebhookSender | None = None


@dataclass(frozen=True)
class LinkPage:
    """What an email link's confirmation page shows."""

    claims: LinkClaims
    view: ApprovalDetailView
    approver: str
    used: bool


@dataclass(frozen=True)
class SlackReply:
    """What to tell the Slack user who clicked."""

    ok: bool
    text: str
    view: ApprovalRequestView | None = None


@dataclass(frozen=True)
class CallbackRegistration:
    """A registered webhook; the secret is shown once."""

    id: int
    action_id: str
    url: str
    secret: str


@dataclass
class ApprovalDesk:
    """Listing, showing and deciding approval requests, on every channel."""

    gateway: Gateway
    links: LinkSigner
    public_url: str
    rules: ApprovalRules = field(default_factory=ApprovalRules)
    channels: Channels = field(default_factory=Channels)
    refusals: RefusalLog | None = None
    #: Clicks on resolution requests' buttons (set by the `ResolutionDesk`), verified here.
    resolution_clicks: Callable[[Principal, ResolutionClick], SlackReply] | None = None

    def __post_init__(self) -> None:
        if self.refusals is None:
            self.refusals = RefusalLog(self.gateway.store, self.gateway.clock)

    # -- reading ---------------------------------------------------------------------------
    def list(
        self,
        principal: Principal,
        status: str | None = "pending",
        action: str | None = None,
        risk: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ApprovalRequestView]:
        """Requests, newest first; agents see only those of their own actions."""
        if status not in (None, "all", "decided", *STATUSES):
            raise ApprovalError(f"unknown status {status!r}", field="status")
        query = select(Approval, Action).join(Action, Approval.action_id == Action.id)
        if principal.role not in VIEWERS:
            query = query.where(Action.requested_by == principal.key_id)
        if status == "decided":
            query = query.where(Approval.status != "pending")
        elif status not in (None, "all"):
            query = query.where(Approval.status == status)
        if action:
            query = query.where(Action.action_type == action)
        if risk:
            query = query.where(Action.risk == risk)
        query = query.order_by(Approval.created_at.desc(), Approval.id).limit(limit).offset(offset)
        with self.gateway.store.transaction() as session:
            return [request_view(a, act) for a, act in session.execute(query).tuples()]

    def get(self, principal: Principal, approval_id: str) -> ApprovalDetailView:
        """A request with its business context (read from the ERP now)."""
        with self.gateway.store.transaction() as session:
            approval, action = self._load(session, approval_id)
            if principal.role not in VIEWERS and action.requested_by != principal.key_id:
                raise ActionNotFound(f"no approval request {approval_id}", field="id")
            return self._detail(approval, action)

    def _load(self, session: Session, approval_id: str) -> tuple[Approval, Action]:
        approval = session.get(Approval, approval_id)
        if approval is None:
            raise ActionNotFound(f"no approval request {approval_id}", field="id")
        return approval, approval.action

    def _detail(self, approval: Approval, action: Action) -> ApprovalDetailView:
        record = None
        canonical_id = action.target.get("canonical_id")
        if canonical_id:
            try:
                record = self.gateway.connector.read_record(
                    str(action.target["entity_type"]), str(canonical_id)
                )
            except GatewayError:
                record = None  # the ERP is unreachable: show what the store knows
        base = request_view(approval, action)
        return ApprovalDetailView(**base.model_dump(), details=build_details(action, record))

    def detail_of(self, approval_id: str) -> ApprovalDetailView:
        """A request's detail for a channel that already authorised its reader."""
        with self.gateway.store.transaction() as session:
            return self._detail(*self._load(session, approval_id))

    def may_decide(self, principal: Principal, view: ApprovalRequestView) -> bool:
        """Whether the decision forms should be offered to this principal."""
        return (
            view.status == "pending"
            and may_decide(principal, view.action)
            and principal.key_id != view.requested_by
            and not any(d.approver == principal.actor and not d.void for d in view.decisions)
        )

    # -- deciding: `Gateway.decide`, the one decision path ----------------------------------
    def refuse_anonymous(self, kind: str, data: dict[str, Any]) -> None:
        """Audit a refusal from a channel that proved no identity (link, Slack): counted, and
        written as one entry per kind and reason a minute, however many arrive."""
        assert self.refusals is not None
        self.refusals.record(kind, str(data.get("reason", "")), data)

    # -- email links -----------------------------------------------------------------------
    def link_claims(
        self, token: str, links: LinkSigner | None = None, scope: str | None = None
    ) -> tuple[LinkClaims, Principal]:
        """A link's claims and its recipient, who must still be active (and hold `scope`);
        every refusal audited. `links`: another signer (resolution links)."""
        now = self.gateway.clock()
        try:
            claims = (links or self.links).verify(token, now)
            with self.gateway.store.transaction() as session:
                user = active_user(session, claims.user_id)
                principal = user_principal(user) if user is not None else None
            if principal is None or (scope is not None and scope not in principal.scopes):
                raise LinkRefused("this link's recipient may no longer decide", "unknown-user")
        except LinkRefused as e:
            self.refuse_anonymous("link.refused", {"reason": e.reason, "message": e.message})
            e.audited = True
            raise
        return claims, principal

    def open_link(self, token: str) -> LinkPage:
        """Verify an email link and show what it would decide (GET: decides nothing)."""
        claims, principal = self.link_claims(token)
        with self.gateway.store.transaction() as session:
            used = link_tokens.is_consumed(session, claims.token_id)
        view = self.detail_of(claims.approval_id)
        return LinkPage(claims, view, principal.name, used)

    def decide_by_link(
        self, token: str, reason: str = "", comment: str = ""
    ) -> ApprovalRequestView:
        """Decide what an email link proposes, once (POST from the confirmation page)."""
        claims, principal = self.link_claims(token)
        return self.gateway.decide(
            principal, claims.approval_id, claims.decision == "approve", reason, comment,
            seen_hash=claims.payload_hash, channel="email", link=claims,
        )  # fmt: skip

    def link_urls(
        self, approval_id: str, payload_hash: str, user_id: str, expires_at: datetime
    ) -> tuple[str, str]:
        """The approve and reject URLs of one email (one token id: one use between them)."""
        jti = secrets.token_urlsafe(16)
        urls = []
        decisions: tuple[Literal["approve"], Literal["reject"]] = ("approve", "reject")
        for decision in decisions:
            token = self.links.issue(approval_id=approval_id, payload_hash=payload_hash,
                                     user_id=user_id, decision=decision,
                                     expires_at=expires_at, token_id=jti)  # fmt: skip
            urls.append(f"{self.public_url}/portal/email?token={token}")
        return urls[0], urls[1]

    # -- Slack -----------------------------------------------------------------------------
    def slack_interaction(
        self, body: bytes, timestamp: str | None, signature: str | None
    ) -> SlackReply:
        """Verify, parse and apply a Slack button click; SlackRefused when not authentic."""
        verifier = self.channels.slack_verifier
        if verifier is None:
            raise Forbidden("Slack is not configured")
        try:
            verifier.verify(body, timestamp, signature)
            resolution = parse_resolution_click(body) if self.resolution_clicks else None
            click = parse_interaction(body) if resolution is None else None
        except GatewayError as e:
            reason = getattr(e, "reason", "refused")
            self.refuse_anonymous("slack.refused", {"reason": reason, "message": e.message})
            e.audited = True
            raise
        clicked = resolution or click
        assert clicked is not None
        with self.gateway.store.transaction() as session:
            user = find_slack_user(session, clicked.slack_user)
        if user is None:
            self.refuse_anonymous("slack.refused", {"reason": "unknown-user",
                                                    "slack_user": clicked.slack_user})  # fmt: skip
            return self._tell(clicked, SlackReply(False, "You are not a Canon approver."))
        if resolution is not None and self.resolution_clicks is not None:
            return self._tell(clicked, self.resolution_clicks(user_principal(user), resolution))
        assert click is not None
        return self._tell(click, self._slack_decide(user_principal(user), click))

    def _slack_decide(self, principal: Principal, click: Interaction) -> SlackReply:
        try:
            view = self.gateway.decide(principal, click.approval_id, click.approve,
                                       click.reason, seen_hash=click.payload_hash,
                                       channel="slack", run_now=False)  # fmt: skip
        except GatewayError as e:
            return SlackReply(False, f"Not recorded: {e.message}")
        if view.status == "pending":
            text = f"Recorded: {view.approvals_given} of {view.approvals_needed} approvals."
        else:
            text = f"Recorded: the request is {view.status}."
        return SlackReply(True, text, view)

    def _tell(self, click: Interaction | ResolutionClick, reply: SlackReply) -> SlackReply:
        if self.channels.slack is not None:
            try:
                self.channels.slack.tell(click.channel, click.slack_user, reply.text)
            except GatewayError:
                pass  # the decision stands; the note is a courtesy
        return reply

    # -- webhooks --------------------------------------------------------------------------
    def register_callback(
        self, principal: Principal, action_id: str, url: str
    ) -> CallbackRegistration:
        """Register a URL to hear the action's outcome (its requester or an admin)."""
        sender = self.channels.webhooks
        if sender is None:
            check_url(url)
        else:
            check_url(url, sender.policy, sender.resolve)
        now = self.gateway.clock()
        with self.gateway.store.transaction() as session:
            action = session.get(Action, action_id)
            if action is None or (
                principal.role is not Role.ADMIN and action.requested_by != principal.key_id
            ):
                raise ActionNotFound(f"no action {action_id}", field="id")
            secret = secrets.token_hex(32)
            row = ActionCallback(action_id=action_id, url=url, secret=secret,
                                 registered_by=principal.actor, status="waiting", attempts=0,
                                 created_at=now, next_attempt_at=now)  # fmt: skip
            session.add(row)
            session.flush()
            audit.append(session, "callback.registered", {"callback_id": row.id, "url": url},
                         action_id=action_id, actor=principal.actor, now=now)  # fmt: skip
            return CallbackRegistration(row.id, action_id, url, secret)
