"""Resolution tokens: what the resolver concluded, signed, so an agent can only write by token.

A token is `ct1.<payload>.<signature>`: the payload is base64url canonical JSON, the signature
HMAC-SHA256 under a key derived from the settings' secret (domain-separated, so the same secret
can sign other things without one being replayed as the other). A `match` token binds the entity
type and canonical id; a `no_match` token binds the queried identity (normalised name, tax id).
Both bind the model and calibration versions that decided, and an expiry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.errors import (
    TokenExpired,
    TokenForged,
    TokenMalformed,
    TokenMissing,
    WrongEntityType,
    WrongTokenKind,
)
from resolver.types import Decision, Resolution

PREFIX = "ct1"
TOKEN_FIELD = "target.resolution_token"
TokenKind = Literal["match", "no_match"]


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    kind: TokenKind
    entity_type: str | None
    canonical_id: str | None
    identity: Mapping[str, str | None]
    model_version: str
    calibration_version: str
    issued_at: int
    expires_at: int
    token_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def as_dict(self) -> dict[str, Any]:
        """The claims as plain JSON values (what the action stores as its target)."""
        return {
            "kind": self.kind,
            "entity_type": self.entity_type,
            "canonical_id": self.canonical_id,
            "identity": dict(self.identity),
            "model_version": self.model_version,
            "calibration_version": self.calibration_version,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "token_id": self.token_id,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies resolution tokens with one secret and time-to-live."""

    def __init__(
        self, secret: str, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = hmac.new(secret.encode(), b"canon resolution token v1", hashlib.sha256).digest()
        self._ttl = ttl_seconds
        self._clock = clock

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, resolution: Resolution) -> str | None:
        """A token for a `match` or `no_match` resolution; None for `ambiguous`."""
        if resolution.decision is Decision.AMBIGUOUS:
            return None
        now = int(self._clock())
        is_match = resolution.decision is Decision.MATCH
        claims = TokenClaims(
            kind="match" if is_match else "no_match",
            entity_type=resolution.entity_type,
            canonical_id=resolution.canonical_id if is_match else None,
            identity={} if is_match else dict(resolution.query_identity),
            model_version=resolution.model_version,
            calibration_version=resolution.calibration_version,
            issued_at=now,
            expires_at=now + self._ttl,
        )
        return self.encode(claims)

    def encode(self, claims: TokenClaims) -> str:
        """Sign `claims` as they are (issue() is the normal way to make a token)."""
        body = json.dumps(claims.as_dict(), sort_keys=True, separators=(",", ":"))
        payload = _b64(body.encode())
        return f"{PREFIX}.{payload}.{self._sign(payload)}"

    def verify(self, token: str | None, *, entity_type: str, kind: TokenKind) -> TokenClaims:
        """The token's claims, if it is genuine, unexpired, and of this entity type and kind."""
        if not token:
            raise TokenMissing("a resolution token is required", field=TOKEN_FIELD)
        parts = token.split(".")
        # Tokens are ASCII by construction; anything else is not one (and must not reach HMAC).
        if len(parts) != 3 or parts[0] != PREFIX or not token.isascii():
            raise TokenMalformed("not a Canon resolution token", field=TOKEN_FIELD)
        _, payload, signature = parts
        if not hmac.compare_digest(self._sign(payload).encode(), signature.encode()):
            raise TokenForged("the token's signature does not match", field=TOKEN_FIELD)
        claims = self._decode(payload)
        if self._clock() >= claims.expires_at:
            raise TokenExpired("the token has expired: resolve again", field=TOKEN_FIELD)
        if claims.entity_type != entity_type:
            raise WrongEntityType(
                f"the token names a {claims.entity_type}, the action targets a {entity_type}",
                field=TOKEN_FIELD,
            )
        if claims.kind != kind:
            raise WrongTokenKind(
                f"the action needs a {kind} token, this is a {claims.kind} token",
                field=TOKEN_FIELD,
            )
        return claims

    @staticmethod
    def _decode(payload: str) -> TokenClaims:
        try:
            data = json.loads(_unb64(payload))
            return TokenClaims(**data)
        except (ValueError, TypeError, binascii.Error) as e:
            # Signed by us yet unreadable: only a token from an incompatible version gets here.
            raise TokenMalformed("unreadable token payload", field=TOKEN_FIELD) from e
