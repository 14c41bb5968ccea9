"""Slack: the Block Kit approval message, signature checks and button clicks.

Every request from Slack is verified (v0, HMAC-SHA256 over `v0:{timestamp}:{body}` with the
signing secret, a 5-minute window, constant-time compare: slack_sdk's SignatureVerifier) before
its payload is even parsed. Agent-written text goes into `plain_text` objects, never `mrkdwn`,
and the message's top-level `text` (notifications, clients without blocks) has `&`, `<` and `>`
escaped, so that it cannot mention a channel or forge a link. A button's value carries the
approval id and the payload hash the message showed, so a click on an outdated message is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import Clock, SignatureVerifier

from gateway.approvals import RejectReason
from gateway.approvals_views import ApprovalDetailView, ApprovalRequestView
from gateway.channels.email import DeliveryFailed, one_line
from gateway.errors import GatewayError

REPLAY_WINDOW_SECONDS = 300
APPROVE = "approval.approve"
REJECT_PREFIX = "approval.reject."
REJECT_LABELS = {
    RejectReason.WRONG_ENTITY: "Reject: wrong entity",
    RejectReason.WRONG_AMOUNT: "Reject: wrong amount",
    RejectReason.NOT_NEEDED: "Reject: not needed",
}
SlackReason = Literal["missing", "stale", "forged", "malformed", "unknown-user"]


class SlackRefused(GatewayError):
    """A request from Slack that is not authentic or not understood; `reason` says why."""

    def __init__(self, message: str, reason: SlackReason) -> None:
        super().__init__(message, field="x-slack-signature" if reason != "malformed" else "body")
        self.reason: SlackReason = reason


class _Clock(Clock):
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now().timestamp()


class SlackVerifier:
    """Checks `X-Slack-Signature` and `X-Slack-Request-Timestamp` against the signing secret."""

    def __init__(self, signing_secret: str, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))

    def verify(self, body: bytes, timestamp: str | None, signature: str | None) -> None:
        """Return when authentic; raise SlackRefused saying why otherwise."""
        if not timestamp or not signature:
            raise SlackRefused("the request is not signed by Slack", "missing")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise SlackRefused("the Slack timestamp is not a number", "forged")
        if abs(self._clock().timestamp() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
            raise SlackRefused("the Slack request is older than 5 minutes (replay?)", "stale")
        if not self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            raise SlackRefused("the Slack signature does not match", "forged")


@dataclass(frozen=True)
class Interaction:
    """A button click from a `block_actions` payload."""

    slack_user: str
    approval_id: str
    payload_hash: str
    approve: bool
    reason: str
    channel: str | None
    message_ts: str | None


def parse_interaction(body: bytes) -> Interaction:
    """The click a verified body carries; SlackRefused(`malformed`) when it is not one of ours."""
    try:
        payload = json.loads(parse_qs(body.decode("utf-8"), strict_parsing=True)["payload"][0])
        if payload.get("type") != "block_actions":
            raise ValueError(f"unsupported interaction type {payload.get('type')!r}")
        action = payload["actions"][0]
        action_id = str(action["action_id"])
        value = json.loads(action["value"])
        approve = action_id == APPROVE
        reason = "" if approve else action_id.removeprefix(REJECT_PREFIX)
        if not approve and (not action_id.startswith(REJECT_PREFIX) or not reason):
            raise ValueError(f"unknown action {action_id!r}")
        return Interaction(
            slack_user=str(payload["user"]["id"]),
            approval_id=str(value["a"]),
            payload_hash=str(value["h"]),
            approve=approve,
            reason=reason,
            channel=(payload.get("channel") or {}).get("id"),
            message_ts=(payload.get("container") or {}).get("message_ts"),
        )
    except (UnicodeDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise SlackRefused(f"not an approval interaction: {e}", "malformed") from e


def escape_mrkdwn(text: str) -> str:
    """Slack's control characters escaped (`&`, `<`, `>`), so that agent or ERP text in a
    message's `text` cannot mention `<!channel>` or disguise a link as `<https://…|label>`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, limit: int = 3000) -> dict[str, Any]:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text or " ", "emoji": False}


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {
        "title": _plain(title, 100),
        "text": _plain(text, 300),
        "confirm": _plain(yes, 30),
        "deny": _plain("Cancel", 30),
    }


def _fields(view: ApprovalDetailView) -> list[dict[str, Any]]:
    d = view.details
    pairs = [
        ("Action", f"{view.action} ({view.risk})"),
        ("Target", f"{d.display_name} ({d.canonical_id or d.entity_type})"),
        ("Amount", d.amount or "—"),
        ("Approvals", f"{view.approvals_given} of {view.approvals_needed}"),
        ("Reason", d.reason),
        ("Expires", view.expires_at.strftime("%Y-%m-%d %H:%M UTC") if view.expires_at else "—"),
    ]
    return [_plain(f"{name}: {value}", 300) for name, value in pairs]


def request_blocks(view: ApprovalDetailView, portal_url: str, escalation: bool) -> list[Any]:
    """The approval message: summary, fields, evidence, changes, and the decision buttons."""
    value = json.dumps({"a": view.id, "h": view.payload_hash}, separators=(",", ":"))
    short = one_line(view.summary, 200)
    changes = [
        f"{s.position + 1}. {s.name}: "
        + (", ".join(f"{c.field} {c.before} → {c.after}" for c in s.changes) or s.operation)
        for s in view.details.steps
    ]
    blocks: list[Any] = [
        {"type": "header", "text": _plain("Escalated: approval needed" if escalation
                                          else "Approval needed", 150)},
        {"type": "section", "text": _plain(view.summary)},
        {"type": "section", "fields": _fields(view)},
        {"type": "section", "text": _plain("What will change:\n" + "\n".join(changes))},
    ]  # fmt: skip
    if view.details.evidence:
        evidence = "Evidence: " + "; ".join(view.details.evidence)
        blocks.append({"type": "context", "elements": [_plain(evidence, 2000)]})
    buttons: list[Any] = [
        {"type": "button", "action_id": APPROVE, "style": "primary", "value": value,
         "text": _plain("Approve", 75),
         "confirm": _confirm("Approve?", f"Approve: {short}", "Approve")},
    ]  # fmt: skip
    for reason, label in REJECT_LABELS.items():
        buttons.append(
            {"type": "button", "action_id": REJECT_PREFIX + reason.value, "style": "danger",
             "value": value, "text": _plain(label, 75),
             "confirm": _confirm("Reject?", f"{label}: {short}", "Reject")}
        )  # fmt: skip
    buttons.append(
        {"type": "button", "action_id": "approval.open", "text": _plain("Open in portal", 75),
         "url": f"{portal_url}/portal/approvals/{view.id}"}
    )  # fmt: skip
    blocks.append({"type": "actions", "block_id": f"approval:{view.id}", "elements": buttons})
    return blocks


def outcome_blocks(view: ApprovalRequestView) -> list[Any]:
    """The message once settled: the outcome and who decided, no buttons."""
    lines = [
        f"{d.decision} by {d.approver} ({d.reason}{': ' + d.comment if d.comment else ''})"
        + (" — void: the action changed" if d.void else "")
        for d in view.decisions
    ]
    return [
        {"type": "header", "text": _plain(f"Approval {view.status}", 150)},
        {"type": "section", "text": _plain(view.summary)},
        {"type": "context", "elements": [_plain("\n".join(lines) or view.status, 2000)]},
    ]


class SlackChannel:
    """Posts and updates approval messages through Slack's Web API (any `base_url`)."""

    def __init__(
        self, client: WebClient, channel: str, escalation_channel: str | None, portal_url: str
    ) -> None:
        self.client, self.channel = client, channel
        self.escalation_channel, self.portal_url = escalation_channel, portal_url

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        try:
            response = method(**kwargs)
        except (SlackApiError, SlackClientError, OSError) as e:
            raise DeliveryFailed(f"Slack: {type(e).__name__}: {e}") from e
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post(self, channel: str, text: str, blocks: list[Any]) -> dict[str, str]:
        """Post a message (`text` is escaped here); return where it is (channel and ts)."""
        data = self._call(self.client.chat_postMessage, channel=channel,
                          text=escape_mrkdwn(one_line(text, 300)), blocks=blocks)  # fmt: skip
        return {"channel": str(data.get("channel", channel)), "ts": str(data.get("ts", ""))}

    def update(self, ref: dict[str, Any], text: str, blocks: list[Any]) -> None:
        """Replace a posted message (`text` is escaped here)."""
        self._call(self.client.chat_update, channel=str(ref["channel"]), ts=str(ref["ts"]),
                   text=escape_mrkdwn(one_line(text, 300)), blocks=blocks)  # fmt: skip

    def post_request(
        self, channel: str, view: ApprovalDetailView, escalation: bool
    ) -> dict[str, str]:
        """Post the approval message; return where it is (channel and ts) for later updates."""
        return self.post(channel, view.summary, request_blocks(view, self.portal_url, escalation))

    def update_outcome(self, ref: dict[str, Any], view: ApprovalRequestView) -> None:
        """Replace the approval message's buttons with the outcome."""
        self.update(ref, f"{view.status}: {view.summary}", outcome_blocks(view))

    def tell(self, channel: str | None, user: str, text: str) -> None:
        """An ephemeral note to the user who clicked (refusals, partial approvals)."""
        self._call(self.client.chat_postEphemeral, channel=channel or self.channel, user=user,
                   text=escape_mrkdwn(text))  # fmt: skip
