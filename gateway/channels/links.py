"""Signed approval links for email: expiring, single-use, bound to approval, payload and person.

A link token is an itsdangerous signature (HMAC under the approval-link key that HKDF derives from
the master secret, never the resolution-token key) over the approval id, the payload hash the email
showed, the recipient portal user, the decision the link proposes, an expiry, a token id and the
id of the master secret that signed (a link from before a rotation is refused as such).
Signatures alone are neither single-use nor revocable: the token id is recorded in
`consumed_links` in the same transaction as the decision it carried, so that a second use
(or a concurrent one) is refused by the store's primary key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.errors import ApprovalError
from gateway.keyring import APPROVAL_LINKS, KeySource, as_key_source
from gateway.store.models import ConsumedLink

SALT = "canon.approval-link.v1"
#: Resolution-request links sign under another salt: neither kind can be replayed as the other.
RESOLUTION_SALT = "canon.resolution-link.v1"
MAX_TOKEN_LENGTH = 2048

RefusalReason = Literal[
    "malformed", "tampered", "rotated", "expired", "used", "changed", "unknown-user"
]


class LinkRefused(ApprovalError):
    """An approval link that cannot decide anything; `reason` says why."""

    def __init__(self, message: str, reason: RefusalReason) -> None:
        super().__init__(message, field="token")
        self.reason: RefusalReason = reason


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link says."""

    approval_id: str
    payload_hash: str
    user_id: str
    decision: Literal["approve", "reject"]
    expires_at: datetime
    token_id: str
    #: What the link proposes, as signed (a resolution link: a canonical id, `new`, `cannot_tell`).
    choice: str = ""


class LinkSigner:
    """Issues and verifies approval link tokens (resolution-request links with their salt)."""

    def __init__(self, keys: KeySource | str, salt: str = SALT) -> None:
        self._keys = as_key_source(keys)
        self._salt = salt

    def _serializer(self) -> tuple[URLSafeSerializer, frozenset[str], str]:
        ring = self._keys.current()
        serializer = URLSafeSerializer(ring.key(APPROVAL_LINKS), salt=self._salt)
        return serializer, ring.retired, ring.key_id

    def issue(
        self,
        *,
        approval_id: str,
        payload_hash: str,
        user_id: str,
        decision: str,
        expires_at: datetime,
        token_id: str | None = None,
    ) -> str:
        """A token for one recipient and one decision (links of one email share a token id)."""
        serializer, _, key_id = self._serializer()
        body = {
            "a": approval_id,
            "h": payload_hash,
            "u": user_id,
            "d": decision,
            "e": int(expires_at.timestamp()),
            "j": token_id or secrets.token_urlsafe(16),
            "k": key_id,
        }
        return str(serializer.dumps(body))

    def verify(self, token: str, now: datetime) -> LinkClaims:
        """The claims of an authentic, unexpired token; LinkRefused otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise LinkRefused("this is not an approval link", "malformed")
        serializer, retired, _ = self._serializer()
        try:
            body = serializer.loads(token)
        except BadSignature as e:
            _, unsigned = serializer.loads_unsafe(token)
            if isinstance(unsigned, dict) and unsigned.get("k") in retired:
                raise LinkRefused(
                    "this approval link was signed with a secret that has since been rotated",
                    "rotated",
                ) from e
            raise LinkRefused("this approval link is not authentic", "tampered") from e
        try:
            claims = LinkClaims(
                approval_id=str(body["a"]),
                payload_hash=str(body["h"]),
                user_id=str(body["u"]),
                decision="approve" if body["d"] == "approve" else "reject",
                expires_at=datetime.fromtimestamp(int(body["e"]), UTC),
                token_id=str(body["j"]),
                choice=str(body["d"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise LinkRefused("this is not an approval link", "malformed") from e
        if now >= claims.expires_at:
            raise LinkRefused("this approval link has expired", "expired")
        return claims


def is_consumed(session: Session, token_id: str) -> bool:
    """Whether a link with this token id already decided."""
    return session.get(ConsumedLink, token_id) is not None


def consume(session: Session, claims: LinkClaims, actor: str, now: datetime) -> None:
    """Record the link as used, in the caller's transaction; LinkRefused if it already was."""
    if is_consumed(session, claims.token_id):
        raise LinkRefused("this approval link has already been used", "used")
    session.add(
        ConsumedLink(
            jti=claims.token_id, approval_id=claims.approval_id, actor=actor, consumed_at=now
        )
    )
    try:
        session.flush()
    except IntegrityError as e:  # a concurrent use of the same link won
        raise LinkRefused("this approval link has already been used", "used") from e
