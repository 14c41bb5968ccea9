"""Approval emails: plain text and HTML, with approve/reject links, sent over SMTP.

The links open a confirmation page (GET shows, POST decides), because mail scanners fetch links.
Subjects are single-line (newlines in an agent's text cannot inject headers) and the HTML part
is rendered by Jinja2 with autoescaping, so an agent's text shows as text.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Literal, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway.approvals_views import ApprovalDetailView
from gateway.errors import GatewayError

TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
SUBJECT_MAX = 150


class DeliveryFailed(GatewayError):
    """A notification could not be delivered (it will be retried)."""


@dataclass(frozen=True)
class EmailConfig:
    """Where and how to send mail."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    security: Literal["none", "starttls", "tls"] = "none"
    sender: str = "Canon approvals <canon@localhost>"
    timeout_seconds: float = 10.0


class Mailer(Protocol):
    """Anything that sends an email message."""

    sender: str

    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Sends over SMTP with the configured security and credentials."""

    def __init__(self, config: EmailConfig) -> None:
        self.config = config
        self.sender = config.sender

    def send(self, message: EmailMessage) -> None:
        """Send one message; DeliveryFailed on any SMTP or network error."""
        c = self.config
        try:
            if c.security == "tls":
                context = ssl.create_default_context()
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout_seconds, context=context
                )
            else:
                client = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
            with client:
                if c.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if c.username and c.password:
                    client.login(c.username, c.password)
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryFailed(f"SMTP {c.host}:{c.port}: {type(e).__name__}: {e}") from e


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    """Collapse whitespace (no header injection) and shorten."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def request_email(
    view: ApprovalDetailView,
    *,
    sender: str,
    to: str,
    recipient_name: str,
    approve_url: str,
    reject_url: str,
    portal_url: str,
    escalation: bool = False,
) -> EmailMessage:
    """The approval email for one recipient."""
    values = {
        "view": view,
        "d": view.details,
        "recipient_name": recipient_name,
        "approve_url": approve_url,
        "reject_url": reject_url,
        "portal_url": portal_url,
        "escalation": escalation,
    }
    message = EmailMessage()
    prefix = "Escalated: approval needed" if escalation else "Approval needed"
    message["Subject"] = one_line(f"{prefix}: {view.summary}")
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = make_msgid(domain="canon.local")
    message["X-Canon-Approval"] = view.id
    message.set_content(_ENV.get_template("approval_email.txt").render(values))
    message.add_alternative(_ENV.get_template("approval_email.html").render(values), subtype="html")
    return message
