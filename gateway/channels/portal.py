"""Portal users and their sessions: argon2-hashed passwords, server-side sessions, CSRF tokens.

A portal user is a person who decides approvals (role `approver` or `admin`), optionally limited
to action types, and who may hold the `resolver` scope (settles resolution requests); the same
person is reached by email (their address) and in Slack (their Slack user id), and decides as
`user:<id>` on every channel, so that one person counts once.
A session's cookie holds a random secret; the store keeps its SHA-256, the user, the expiry and
the session's CSRF token.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.errors import InvalidKeyRequest, NotAuthenticated
from gateway.keys import Principal, Role
from gateway.people import person_for
from gateway.store import Store
from gateway.store.models import PortalSession, PortalUser
from gateway.throttle import LoginThrottle, RefusalLog, Throttled, ThrottleRules

_HASHER = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,99}$")
EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
MIN_PASSWORD = 12
PORTAL_ROLES = (Role.APPROVER, Role.ADMIN)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so that timing does not reveal which exist.

    Hashed on first use rather than at import: argon2 costs most of a second, on every start.
    """
    return _HASHER.hash("canon-no-such-user")


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def user_principal(user: PortalUser) -> Principal:
    """The principal a portal user decides as, on every channel."""
    scopes = tuple(f"actions:{p}" for p in user.action_scopes)
    if user.resolver:
        scopes += ("resolver",)
    return Principal(user.id, user.username, Role(user.role), scopes, kind="user")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str = "approver",
    display_name: str | None = None,
    email: str | None = None,
    slack_user_id: str | None = None,
    action_scopes: list[str] | None = None,
    notify_group: str = "approvers",
    actions: list[str] | None = None,
    actor: str,
    now: datetime,
    hasher: PasswordHasher = _HASHER,
    person_id: str | None = None,
    resolver: bool = False,
) -> PortalUser:
    """Add a portal user (audited); the password is kept only as its argon2 hash.

    `hasher` sets the argon2 cost (verification reads it back from the hash).
    """
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidKeyRequest("a username is 2-100 of a-z 0-9 . _ -", field="username")
    if len(password) < MIN_PASSWORD:
        message = f"a password has at least {MIN_PASSWORD} characters"
        raise InvalidKeyRequest(message, field="password")
    if role not in {r.value for r in PORTAL_ROLES}:
        raise InvalidKeyRequest("a portal user is an approver or an admin", field="role")
    if email is not None and not EMAIL.match(email):
        raise InvalidKeyRequest(f"not an email address: {email!r}", field="email")
    for pattern in action_scopes or []:
        if actions is not None and not any(fnmatchcase(a, pattern) for a in actions):
            raise InvalidKeyRequest(f"{pattern!r} names no action", field="action_scopes")
    taken = select(PortalUser).where(PortalUser.username == username)
    if session.scalars(taken).first() is not None:
        raise InvalidKeyRequest(f"the username {username!r} is taken", field="username")
    if slack_user_id and find_slack_user(session, slack_user_id) is not None:
        raise InvalidKeyRequest("that Slack user belongs to another user", field="slack_user_id")
    user = PortalUser(
        id="u" + secrets.token_hex(8),
        username=username,
        display_name=(display_name or username).strip()[:200],
        email=email,
        slack_user_id=slack_user_id or None,
        role=role,
        action_scopes=list(action_scopes or []),
        notify_group=notify_group,
        password_hash=hasher.hash(password),
        created_at=now,
        person_id=person_for(session, person_id, display_name or username, actor, now),
        changed_by=actor,
        changed_at=now,
        resolver=resolver,
    )
    session.add(user)
    session.flush()
    audit.append(
        session,
        "portal.user_created",
        {"user_id": user.id, "username": username, "role": role, "email": email,
         "slack_user_id": user.slack_user_id, "action_scopes": user.action_scopes,
         "notify_group": notify_group, "person_id": user.person_id, "resolver": resolver},
        actor=actor,
        now=now,
    )  # fmt: skip
    return user


def find_slack_user(session: Session, slack_user_id: str) -> PortalUser | None:
    """The active portal user mapped to this Slack user."""
    found = session.scalars(
        select(PortalUser).where(PortalUser.slack_user_id == slack_user_id)
    ).first()
    return found if found is not None and found.disabled_at is None else None


def active_user(session: Session, user_id: str) -> PortalUser | None:
    """The portal user with this id, unless disabled."""
    user = session.get(PortalUser, user_id)
    return user if user is not None and user.disabled_at is None else None


@dataclass(frozen=True)
class PortalLogin:
    """A signed-in portal user: the principal, the cookie secret and the CSRF token."""

    principal: Principal
    display_name: str
    cookie: str
    csrf_token: str
    expires_at: datetime


def login(
    session: Session, username: str, password: str, now: datetime, ttl: timedelta
) -> PortalLogin:
    """Check a password and open a session; every failure says the same and is audited."""
    user = session.scalars(
        select(PortalUser).where(PortalUser.username == username.strip().lower())
    ).first()
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
        # A locked account refuses even the right password, with the same words (no oracle).
        ok = user is not None and user.disabled_at is None and user.locked_at is None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        raise NotAuthenticated("unknown username or wrong password")
    user.failed_logins = 0
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = PortalSession(
        id=_sha(cookie), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=now + ttl
    )
    session.add(row)
    principal = user_principal(user)
    audit.append(session, "portal.login", {"user_id": user.id}, actor=principal.actor, now=now)
    return PortalLogin(principal, user.display_name, cookie, csrf, row.expires_at)


def count_failure(session: Session, username: str, lock_after: int, now: datetime) -> bool:
    """Count a failed sign-in against an existing account; lock it at `lock_after` (audited).
    True when this failure locked it."""
    user = session.scalars(select(PortalUser).where(PortalUser.username == username)).first()
    if user is None:
        return False
    user.failed_logins += 1
    if user.locked_at is None and user.failed_logins >= lock_after:
        user.locked_at = now
        audit.append(session, "portal.user_locked",
                     {"user_id": user.id, "username": user.username,
                      "failed_logins": user.failed_logins}, now=now)  # fmt: skip
        return True
    return False


def unlock_user(session: Session, username: str, actor: str, now: datetime) -> PortalUser:
    """Unlock a locked account and reset its failure count (audited); InvalidKeyRequest if
    there is no such user."""
    user = session.scalars(
        select(PortalUser).where(PortalUser.username == username.strip().lower())
    ).first()
    if user is None:
        raise InvalidKeyRequest(f"no portal user {username!r}", field="username")
    was_locked = user.locked_at is not None
    user.locked_at, user.failed_logins = None, 0
    audit.append(session, "portal.user_unlocked",
                 {"user_id": user.id, "username": user.username, "was_locked": was_locked},
                 actor=actor, now=now)  # fmt: skip
    return user


def resume(session: Session, cookie: str | None, now: datetime) -> PortalLogin:
    """The login a session cookie belongs to, or NotAuthenticated."""
    row = session.get(PortalSession, _sha(cookie)) if cookie else None
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        raise NotAuthenticated("please sign in")
    user = active_user(session, row.user_id)
    if user is None:
        raise NotAuthenticated("please sign in")
    return PortalLogin(
        user_principal(user), user.display_name, str(cookie), row.csrf_token, row.expires_at
    )


def logout(session: Session, cookie: str | None, now: datetime) -> None:
    """End the session of this cookie (audited), if there is one."""
    row = session.get(PortalSession, _sha(cookie)) if cookie else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        audit.append(session, "portal.logout", {}, actor=f"user:{row.user_id}", now=now)


def csrf_ok(login: PortalLogin, presented: str | None) -> bool:
    """Whether a form's CSRF token is this session's (constant-time)."""
    return bool(presented) and secrets.compare_digest(login.csrf_token, str(presented))


class PortalSessions:
    """Portal sign-in, session lookup and sign-out over the store, each one transaction."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        ttl: timedelta,
        throttle: LoginThrottle | None = None,
        refusals: RefusalLog | None = None,
    ) -> None:
        self.store, self.clock, self.ttl = store, clock, ttl
        self.throttle = throttle or LoginThrottle(ThrottleRules(), clock)
        self.refusals = refusals or RefusalLog(store, clock)

    def login(self, username: str, password: str, source: str = "unknown") -> PortalLogin:
        """Sign in; Throttled while this account or address must wait, NotAuthenticated on any
        failure (counted, audited as rate-limited events; enough of them lock the account)."""
        name = username.strip().lower()[:100]
        keys = (f"user:{name}", f"ip:{source}")
        try:
            self.throttle.check(*keys)
        except Throttled:
            self.refusals.record("portal.login_throttled", name, {"username": name,
                                 "source": source})  # fmt: skip
            raise
        try:
            with self.store.transaction() as session:
                signed_in = login(session, username, password, self.clock(), self.ttl)
        except NotAuthenticated:
            self.throttle.failed(*keys)
            with self.store.transaction() as session:
                count_failure(session, name, self.throttle.rules.lock_after, self.clock())
            self.refusals.record("portal.login_failed", name, {"username": name,
                                 "source": source})  # fmt: skip
            raise
        self.throttle.succeeded(*keys)
        return signed_in

    def resume(self, cookie: str | None) -> PortalLogin | None:
        """The signed-in user of a session cookie, or None."""
        with self.store.transaction() as session:
            try:
                return resume(session, cookie, self.clock())
            except NotAuthenticated:
                return None

    def logout(self, cookie: str | None) -> None:
        """End a session."""
        with self.store.transaction() as session:
            logout(session, cookie, self.clock())

    def refuse(self, login: PortalLogin | None, what: str, path: str) -> None:
        """Audit a refused portal request (a form without a valid CSRF token), rate-limited."""
        actor = login.principal.actor if login else None
        data = {"reason": what, "path": path}
        self.refusals.record("portal.refused", f"{actor}:{what}", data, actor=actor)
