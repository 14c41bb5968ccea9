"""People behind identities, and the separation of duties that dual approval rests on.

Approvals are made by people, not keys: every API key and portal user belongs to a person
(`people`; a new one named after the key or user unless an existing person id is given, so that
one human's key and portal account can be tied together). A decision is refused when its person
requested the action (through any of their identities) or picked its target on a resolution
request (a human token's `decided_by`), and a second approval when its person already approved,
or when either approver's person created or last changed the other approver's account within
the window (`ACCOUNT_WINDOW`, a setting): an admin who makes a portal user and
then approves as both is one person deciding twice.

Identities recorded before people existed count as their own person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.errors import ApprovalError, Forbidden, InvalidKeyRequest
from gateway.store import Action, ApiKey, ApprovalDecision
from gateway.store.models import Person, PortalUser

ACCOUNT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Identity:
    """An actor (`key:<id>`, `user:<id>`, `cli:operator`), its person, who last made or changed
    its account and when."""

    actor: str
    person: str
    changed_by: str | None = None
    changed_at: datetime | None = None


def person_for(
    session: Session, person_id: str | None, name: str, actor: str, now: datetime
) -> str:
    """An existing person's id (checked), or a new person named `name`; audited by the caller."""
    if person_id is not None:
        if session.get(Person, person_id) is None:
            raise InvalidKeyRequest(f"no person with id {person_id!r}", field="person_id")
        return person_id
    person = Person(id="p" + secrets.token_hex(8), name=name.strip()[:200] or "unnamed",
                    created_by=actor, created_at=now)  # fmt: skip
    session.add(person)
    session.flush()
    return person.id


def identity(session: Session, actor: str) -> Identity:
    """Who stands behind an actor string of the audit log."""
    kind, _, ident = actor.partition(":")
    row: ApiKey | PortalUser | None = None
    if kind == "key":
        row = session.get(ApiKey, ident)
    elif kind == "user":
        row = session.get(PortalUser, ident)
    if row is None:
        return Identity(actor, actor)
    person = f"person:{row.person_id}" if row.person_id else actor
    return Identity(actor, person, row.changed_by, row.changed_at)


def _made(session: Session, account: Identity, by: Identity, now: datetime,
          window: timedelta) -> bool:  # fmt: skip
    """Whether `by`'s person created or last changed `account` within the window."""
    if account.changed_by is None or account.changed_at is None:
        return False
    if now - account.changed_at > window:
        return False
    return identity(session, account.changed_by).person == by.person


def check_separation(
    session: Session,
    action: Action,
    approver_actor: str,
    approvals: list[ApprovalDecision],
    now: datetime,
    window: timedelta = ACCOUNT_WINDOW,
) -> None:
    """Refuse a decision its person may not make (see the module's docstring)."""
    mine = identity(session, approver_actor)
    if mine.person == identity(session, f"key:{action.requested_by}").person:
        raise Forbidden("the person who requested an action cannot approve it")
    picked_by = action.target.get("decided_by")
    if picked_by and mine.person == identity(session, str(picked_by)).person:
        raise Forbidden(
            "the person who picked the target of this action (resolution request) cannot also "
            "approve the action on it: a second person is needed"
        )
    for decision in approvals:
        other = identity(session, decision.approver)
        if other.person == mine.person:
            raise ApprovalError(
                "this person has already approved (with another key or account); "
                "a second person is needed"
            )
        if _made(session, mine, other, now, window) or _made(session, other, mine, now, window):
            days = window.days or 1
            raise ApprovalError(
                "an approver's account was created or changed by the other approver within "
                f"{days} days: a second, independent person is needed"
            )
