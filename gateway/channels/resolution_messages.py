"""Resolution requests in Slack and by email: the candidates side by side, one button (or
signed link) per choice.

As for approvals: Slack requests are verified before their payload is read (`SlackVerifier`),
agent and ERP text goes into `plain_text` objects, and the message's top-level `text` is
mrkdwn-escaped; emails render with autoescaping and single-line subjects. A button's value
carries the request id, the choice and the hash of what the message showed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import parse_qs

from gateway.channels.email import _ENV, one_line
from gateway.channels.slack import SlackRefused, _confirm, _plain
from gateway.resolutions import CANNOT_TELL, NEW, ResolutionRequestView

PREFIX = "resolution."
PICK, NEW_ACTION, CANNOT_TELL_ACTION = PREFIX + "pick", PREFIX + NEW, PREFIX + CANNOT_TELL


@dataclass(frozen=True)
class ResolutionClick:
    """A click on a resolution request's button."""

    slack_user: str
    request_id: str
    payload_hash: str
    choice: str
    canonical_id: str | None
    channel: str | None
    message_ts: str | None


def parse_resolution_click(body: bytes) -> ResolutionClick | None:
    """The resolution click a verified body carries; None when it is not one (an approval's)."""
    try:
        payload = json.loads(parse_qs(body.decode("utf-8"), strict_parsing=True)["payload"][0])
        action = payload["actions"][0]
        action_id = str(action["action_id"])
    except (UnicodeDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None  # not ours to judge: the approval parser refuses it
    if not action_id.startswith(PREFIX):
        return None
    try:
        value = json.loads(action["value"])
        choice = {PICK: "pick", NEW_ACTION: NEW, CANNOT_TELL_ACTION: CANNOT_TELL}[action_id]
        canonical_id = str(value["c"]) if choice == "pick" else None
        return ResolutionClick(
            slack_user=str(payload["user"]["id"]), request_id=str(value["r"]),
            payload_hash=str(value["h"]), choice=choice, canonical_id=canonical_id,
            channel=(payload.get("channel") or {}).get("id"),
            message_ts=(payload.get("container") or {}).get("message_ts"),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SlackRefused(f"not a resolution interaction: {e}", "malformed") from e


def _candidate_text(view: ResolutionRequestView, index: int) -> str:
    c = view.candidates[index]
    lines = [f"{index + 1}. {c.canonical_id} — probability {c.probability:.3f}"]
    for name in view.columns:
        mark = " ≠" if name in view.differing else ""
        lines.append(f"{name}{mark}: {c.display.get(name) or '—'}")
    why = ", ".join(f"{e.get('comparison')} {e.get('level')}" for e in c.explanation[:6])
    if why:
        lines.append(f"why: {why}")
    return "\n".join(lines)


def query_text(view: ResolutionRequestView) -> str:
    """The agent's query and reason, one line each."""
    asked = ", ".join(f"{k}: {v}" for k, v in view.query.items())
    return f"{view.entity_type or 'record'} asked as {asked}\nreason: {view.context.get('reason')}"


def resolution_blocks(view: ResolutionRequestView, portal_url: str, escalation: bool) -> list[Any]:
    """The request message: the query, each candidate with its pick button, new, cannot tell."""
    title = "Escalated: which record is meant?" if escalation else "Which record is meant?"
    blocks: list[Any] = [
        {"type": "header", "text": _plain(title, 150)},
        {"type": "section", "text": _plain(query_text(view))},
        {"type": "context", "elements": [_plain(f"halted: {view.halt_reason}", 2000)]},
    ]
    buttons: list[Any] = []
    for i, c in enumerate(view.candidates):
        value = json.dumps({"r": view.id, "c": c.canonical_id, "h": view.payload_hash},
                           separators=(",", ":"))  # fmt: skip
        blocks.append({"type": "section", "text": _plain(_candidate_text(view, i))})
        confirm = _confirm("Pick?", f"This is {c.canonical_id}", "Pick")
        buttons.append({"type": "button", "action_id": PICK, "value": value,
                        "text": _plain(f"Pick {i + 1}: {c.canonical_id}", 75),
                        "confirm": confirm})  # fmt: skip
    other = json.dumps({"r": view.id, "h": view.payload_hash}, separators=(",", ":"))
    buttons += [
        {"type": "button", "action_id": NEW_ACTION, "value": other,
         "text": _plain("None of these — it is new", 75),
         "confirm": _confirm("New?", "None of the candidates is the record meant", "New")},
        {"type": "button", "action_id": CANNOT_TELL_ACTION, "value": other,
         "text": _plain("Cannot tell", 75)},
        {"type": "button", "action_id": "resolution.open", "text": _plain("Open in portal", 75),
         "url": f"{portal_url}/portal/resolutions/{view.id}"},
    ]  # fmt: skip
    blocks.append({"type": "actions", "block_id": f"resolution:{view.id}", "elements": buttons})
    return blocks


def outcome_blocks(view: ResolutionRequestView) -> list[Any]:
    """The message once settled: the choice and who made it, no buttons."""
    chosen = view.canonical_id or view.choice or view.status
    text = f"{view.status}: {chosen}" + (f" by {view.decided_by}" if view.decided_by else "")
    return [
        {"type": "header", "text": _plain(f"Resolution {view.status}", 150)},
        {"type": "section", "text": _plain(query_text(view))},
        {"type": "context", "elements": [_plain(text, 2000)]},
    ]


def summary_line(view: ResolutionRequestView) -> str:
    """One line for subjects and Slack's `text` (escaped by the caller for its target)."""
    asked = ", ".join(str(v) for v in view.query.values())
    return one_line(f"Which {view.entity_type or 'record'} is meant: {asked}?", 150)


def resolution_email(
    view: ResolutionRequestView,
    *,
    sender: str,
    to: str,
    recipient_name: str,
    choice_urls: list[tuple[str, str]],
    portal_url: str,
    escalation: bool = False,
) -> EmailMessage:
    """The request email for one recipient: one signed link per choice."""
    values = {"view": view, "recipient_name": recipient_name, "choice_urls": choice_urls,
              "portal_url": portal_url, "escalation": escalation}  # fmt: skip
    message = EmailMessage()
    prefix = "Escalated: " if escalation else ""
    message["Subject"] = one_line(prefix + summary_line(view))
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = make_msgid(domain="canon.local")
    message["X-Canon-Resolution-Request"] = view.id
    message.set_content(_ENV.get_template("resolution_email.txt").render(values))
    message.add_alternative(_ENV.get_template("resolution_email.html").render(values),
                            subtype="html")  # fmt: skip
    return message
