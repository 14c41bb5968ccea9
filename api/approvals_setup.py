"""Choosing the approval channels from settings: SMTP, Slack's Web API, webhooks, the portal.

The gateway defines what a channel does; this is where the API picks the real I/O for them
(as it picks the ERP connector), so tests can point each at a local server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk import WebClient

from api.settings import Settings
from gateway import Gateway
from gateway.approvals_desk import ApprovalDesk, ApprovalRules, Channels
from gateway.approvals_outbox import ApprovalOutbox
from gateway.channels import EmailConfig, LinkSigner, SlackChannel, SlackVerifier, SmtpMailer
from gateway.channels.portal import PortalSessions
from gateway.channels.webhook import CallbackPolicy, WebhookSender
from gateway.resolutions_desk import ResolutionDesk
from gateway.shared_state import SharedState
from gateway.throttle import LoginThrottle, RefusalLog, ThrottleRules

log = logging.getLogger("canon.approvals")


@dataclass(frozen=True)
class ApprovalServices:
    """What the approval routes and the background sweep use."""

    desk: ApprovalDesk
    outbox: ApprovalOutbox
    resolutions: ResolutionDesk
    sessions: PortalSessions
    secure_cookies: bool
    sweep_seconds: float


def channels_from(settings: Settings, gateway: Gateway) -> Channels:
    """The channels the settings configure (None where not configured)."""
    mailer = None
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        mailer = SmtpMailer(
            EmailConfig(
                host=settings.smtp_host, port=settings.smtp_port,
                username=settings.smtp_username, password=password,
                security=settings.smtp_security, sender=settings.smtp_from,
                timeout_seconds=settings.smtp_timeout_seconds,
            )
        )  # fmt: skip
    slack = verifier = None
    if settings.slack_bot_token is not None and settings.slack_channel:
        client = WebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            timeout=10,
        )
        slack = SlackChannel(
            client, settings.slack_channel, settings.slack_escalation_channel, settings.public_url
        )
    if settings.slack_signing_secret is not None:
        verifier = SlackVerifier(settings.slack_signing_secret.get_secret_value(), gateway.clock)
    return Channels(
        mailer=mailer,
        slack=slack,
        slack_verifier=verifier,
        webhooks=WebhookSender(policy=CallbackPolicy.parse(settings.callback_allowed_hosts)),
    )


def build_approval_services(
    settings: Settings, gateway: Gateway, state: SharedState | None = None
) -> ApprovalServices:
    """The desk, its outbox and portal sessions, over the gateway and the configured channels;
    sign-in failures counted in `state` (default: this process)."""
    refusals = RefusalLog(gateway.store, gateway.clock)
    desk = ApprovalDesk(
        gateway=gateway,
        links=LinkSigner(gateway.signer.keys),
        public_url=settings.public_url.rstrip("/"),
        rules=ApprovalRules(
            escalate_after_seconds=settings.approval_escalate_after_seconds,
            notify_group=settings.approval_notify_group,
            escalation_group=settings.approval_escalation_group,
        ),
        channels=channels_from(settings, gateway),
        refusals=refusals,
    )
    rules = ThrottleRules(
        free_attempts=settings.portal_login_free_attempts,
        max_delay_seconds=settings.portal_login_max_delay_seconds,
        lock_after=settings.portal_login_lock_after,
    )
    sessions = PortalSessions(
        gateway.store, gateway.clock, timedelta(seconds=settings.portal_session_ttl_seconds),
        throttle=LoginThrottle(rules, gateway.clock, state), refusals=refusals,
    )  # fmt: skip
    return ApprovalServices(
        desk=desk,
        outbox=ApprovalOutbox(desk),
        resolutions=ResolutionDesk(desk, settings.approval_ttl_seconds),
        sessions=sessions,
        secure_cookies=settings.mode == "production",
        sweep_seconds=settings.approval_sweep_seconds,
    )


@asynccontextmanager
async def sweeping(services: ApprovalServices) -> AsyncIterator[None]:
    """Run the approval sweep in the background while the app serves (if configured)."""
    if services.sweep_seconds <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(services.outbox.sweep)
                await asyncio.to_thread(services.resolutions.sweep)
            except Exception:  # keep sweeping: one bad pass must not stop expiry for good
                log.exception("approval sweep failed")
            await asyncio.sleep(services.sweep_seconds)

    task = asyncio.create_task(loop(), name="canon-approval-sweep")
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
