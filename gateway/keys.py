"""API keys: created once (the secret is shown once), stored hashed, scoped, revocable, audited.

A key reads `canon_<id>_<secret>`: the id finds the row, the secret is checked against its
SHA-256 (a random 256-bit secret needs no slow hash). Roles: `agent` (resolves and proposes
actions within its scopes), `approver`, `steward`, `admin`. Scopes: `resolve`, and
`actions:<pattern>` where the pattern is an action name, `<entity>.*` or `*`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.errors import InvalidKeyRequest, NotAuthenticated
from gateway.people import person_for
from gateway.store import ApiKey, utcnow

KEY_PREFIX = "canon"
_SCOPE = re.compile(r"^(resolve|actions:(\*|[a-z][a-z_]*\.(\*|[a-z][a-z_]*)))$")


class Role(StrEnum):
    """What a key's holder is."""

    AGENT = "agent"
    APPROVER = "approver"
    STEWARD = "steward"
    ADMIN = "admin"

    @property
    def spoken(self) -> str:
        """The role with its article, for messages: 'an approver', 'a steward'."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"


@dataclass(frozen=True)
class Principal:
    """The authenticated holder of a key."""

    key_id: str
    name: str
    role: Role
    scopes: tuple[str, ...]
    kind: str = "key"

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.kind}:{self.key_id}"

    def may_resolve(self) -> bool:
        """Agents need the `resolve` scope; people's roles may always look things up."""
        return self.role is not Role.AGENT or "resolve" in self.scopes

    def may_propose(self, action: str) -> bool:
        """Only agents propose actions, and only those their scopes name."""
        return self.role is Role.AGENT and any(
            fnmatchcase(action, scope.removeprefix("actions:"))
            for scope in self.scopes
            if scope.startswith("actions:")
        )


#: Whoever runs the CLI on the store's host: an admin, audited as `cli:operator`.
LOCAL_OPERATOR = Principal("operator", "local operator", Role.ADMIN, (), kind="cli")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _principal(row: ApiKey) -> Principal:
    return Principal(row.id, row.name, Role(row.role), tuple(row.scopes))


def _check_request(
    name: str, role: str, scopes: Sequence[str], actions: Collection[str] | None
) -> Role:
    if not name.strip() or len(name) > 200:
        raise InvalidKeyRequest("a key needs a name of 1 to 200 characters", field="name")
    try:
        parsed = Role(role)
    except ValueError:
        known = "|".join(r.value for r in Role)
        raise InvalidKeyRequest(f"unknown role {role!r} (use {known})", field="role") from None
    for scope in scopes:
        if not _SCOPE.match(scope):
            raise InvalidKeyRequest(
                f"invalid scope {scope!r} (use resolve or actions:<name|entity.*|*>)",
                field="scopes",
            )
        pattern = scope.removeprefix("actions:")
        if scope != "resolve" and actions is not None:
            if not any(fnmatchcase(a, pattern) for a in actions):
                raise InvalidKeyRequest(f"scope {scope!r} names no action", field="scopes")
    if parsed is Role.AGENT and not scopes:
        raise InvalidKeyRequest("an agent key needs at least one scope", field="scopes")
    return parsed


def create_key(
    session: Session,
    name: str,
    role: str,
    scopes: Sequence[str] = (),
    *,
    actions: Collection[str] | None = None,
    actor: str = LOCAL_OPERATOR.actor,
    person_id: str | None = None,
) -> tuple[Principal, str]:
    """Store a new key; return its principal and the full key (never retrievable again).

    The key belongs to `person_id`, or to a new person named after the key.
    """
    parsed = _check_request(name, role, scopes, actions)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiKey(
        id=key_id,
        name=name.strip(),
        role=parsed.value,
        scopes=list(dict.fromkeys(scopes)),
        secret_hash=_hash(secret),
        created_at=now,
        person_id=person_for(session, person_id, name, actor, now),
        changed_by=actor,
        changed_at=now,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        "key.created",
        {"key_id": key_id, "name": row.name, "role": row.role, "scopes": row.scopes,
         "person_id": row.person_id},
        actor=actor,
    )  # fmt: skip
    return _principal(row), f"{KEY_PREFIX}_{key_id}_{secret}"


def revoke_key(
    session: Session, id_or_name: str, *, actor: str = LOCAL_OPERATOR.actor
) -> list[str]:
    """Revoke the active key(s) with this id or name; return the ids revoked."""
    rows = session.scalars(
        select(ApiKey)
        .where(or_(ApiKey.id == id_or_name, ApiKey.name == id_or_name))
        .where(ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id)
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        audit.append(session, "key.revoked", {"key_id": row.id, "name": row.name}, actor=actor)
    return [row.id for row in rows]


def authenticate(session: Session, presented: str | None) -> Principal:
    """The principal of a presented key, or NotAuthenticated (same message for every failure)."""
    refused = NotAuthenticated("a valid API key is required (Authorization: Bearer <key>)")
    if not presented:
        raise refused
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        raise refused
    row = session.get(ApiKey, key_id)
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        raise refused
    if row.revoked_at is not None:
        raise NotAuthenticated("this API key has been revoked")
    return _principal(row)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, active and revoked, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))
