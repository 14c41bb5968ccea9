"""Approval channels: the portal's users and sessions, signed email links, Slack, webhooks."""

from gateway.channels.email import EmailConfig, Mailer, SmtpMailer
from gateway.channels.links import LinkClaims, LinkRefused, LinkSigner
from gateway.channels.portal import PortalLogin, create_user, find_slack_user, login, user_principal
from gateway.channels.slack import SlackChannel, SlackRefused, SlackVerifier
from gateway.channels.webhook import WebhookSender

__all__ = [
    "EmailConfig",
    "LinkClaims",
    "LinkRefused",
    "LinkSigner",
    "Mailer",
    "PortalLogin",
    "SlackChannel",
    "SlackRefused",
    "SlackVerifier",
    "SmtpMailer",
    "WebhookSender",
    "create_user",
    "find_slack_user",
    "login",
    "user_principal",
]
