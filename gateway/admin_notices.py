"""Admin actions on people, keys and portal users, announced to the other admins.

An admin who creates, unlocks or revokes an identity with approval rights could be
preparing to approve as two people; so every such change is not only audited but told to every
*other* admin person: an e-mail to each active admin portal user with an address (not the acting
person's own accounts) and one message to the approvals' Slack channel (sent only if Slack is
configured). The messages are rows of `admin_notices` added by `audit.append` in the transaction
that made the change (no change without its announcement), and sent by the approvals' outbox
sweep (at least once). They carry the audit entry's kind, actor and data: never a secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.people import identity
from gateway.store import ApiKey
from gateway.store.models import AdminNotice, PortalUser

#: Audit kinds that announce an admin's action (key events only for keys with approval rights).
#: Every audited change to an identity belongs here (a new kind too).
ANNOUNCED = frozenset({"key.created", "key.revoked", "portal.user_created",
                       "portal.user_unlocked"})  # fmt: skip
SLACK = "slack"
EMAIL = "email"


def _with_approval_rights(session: Session, kind: str, data: dict[str, Any]) -> bool:
    if not kind.startswith("key."):
        return True
    key = session.get(ApiKey, str(data.get("key_id", "")))
    return key is None or key.role != "agent"


def other_admins(session: Session, actor: str | None) -> list[PortalUser]:
    """Active admin portal users with an e-mail address who are not the acting person."""
    acting = identity(session, actor).person if actor else None
    admins = session.scalars(
        select(PortalUser)
        .where(PortalUser.role == "admin", PortalUser.email.is_not(None),
               PortalUser.disabled_at.is_(None))
        .order_by(PortalUser.username)
    ).all()  # fmt: skip
    return [u for u in admins if identity(session, f"user:{u.id}").person != acting]


def queue(
    session: Session,
    seq: int,
    kind: str,
    actor: str | None,
    data: dict[str, Any],
    now: datetime,
) -> int:
    """Queue the announcements of one audit entry (in its transaction); how many rows."""
    if kind not in ANNOUNCED or not _with_approval_rights(session, kind, data):
        return 0
    details = {"kind": kind, "actor": actor, "at": now.isoformat(), "data": data}
    rows = [_row(seq, details, EMAIL, str(u.email), u.id, now)
            for u in other_admins(session, actor)]  # fmt: skip
    rows.append(_row(seq, details, SLACK, "", None, now))
    session.add_all(rows)
    return len(rows)


def _row(
    seq: int, details: dict[str, Any], channel: str, recipient: str, user: str | None,
    now: datetime,
) -> AdminNotice:  # fmt: skip
    return AdminNotice(
        audit_seq=seq, details=details, channel=channel, kind="admin", recipient=recipient,
        user_id=user, status="pending", attempts=0, created_at=now, next_attempt_at=now,
    )  # fmt: skip


def summary(details: dict[str, Any]) -> str:
    """One line saying who did what (plain text: escape it for its target)."""
    data = details.get("data") or {}
    who = details.get("actor") or "someone"
    subject = (data.get("username") or data.get("name") or data.get("key_id")
               or data.get("user_id") or data.get("person_id") or "")  # fmt: skip
    role = f" (role {data['role']})" if data.get("role") else ""
    return f"Admin action: {who} — {details.get('kind')} {subject}{role}".strip()


def body(details: dict[str, Any]) -> str:
    """The plain-text message: the summary, then every recorded field on its own line."""
    lines = [summary(details), "", f"When: {details.get('at')}"]
    for name, value in sorted((details.get("data") or {}).items()):
        lines.append(f"{name}: {value}")
    lines += ["", "If you did not expect this change, review it (canon audit) and the account."]
    return "\n".join(lines)
