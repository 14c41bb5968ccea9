"""Resolution tokens: what the resolver concluded, signed, so an agent can only write by token.

A token is `ct1.<payload>.<signature>`: the payload is base64url canonical JSON, the signature
HMAC-SHA256 under the resolution-token key that HKDF derives from the master secret
(`gateway.keyring`; approval links use another key, so neither can be replayed as the other).
A `match` token binds the entity type and canonical id; a `no_match` token binds the queried
identity (normalised name, tax id). Both bind the model and calibration versions that decided, an
expiry, the id of the master secret that signed (so a token from before a rotation is refused as
such) and the API key it was issued to (`holder`: the gate refuses it from any other key). Each
token has an id (`token_id`): an action whose catalog entry says `single_use` records it, and the
gate refuses the token for any further action (`gateway.actions.spend_token`).

A `human` token is what a person's pick on a resolution request yields: bound to the chosen
record like a `match` token, and accepted wherever a `match` token is; it names who decided
(`decided_by`) and the request (`request_id`). A person's "none of these — it is new" yields a
`no_match` token that names them the same way.
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
    TokenNotYours,
    TokenRotated,
    WrongEntityType,
    WrongTokenKind,
)
from gateway.keyring import RESOLUTION_TOKENS, KeySource, as_key_source
from resolver.types import Decision, Resolution

PREFIX = "ct1"
TOKEN_FIELD = "target.resolution_token"
TokenKind = Literal["match", "no_match", "human"]
#: What an action may ask for: a `human` token stands wherever a `match` token does.
ACCEPTS: dict[str, tuple[str, ...]] = {"match": ("match", "human"), "no_match": ("no_match",)}


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
    key_id: str = ""
    holder: str | None = None
    decided_by: str | None = None
    request_id: str | None = None

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
            "key_id": self.key_id,
            "holder": self.holder,
            "decided_by": self.decided_by,
            "request_id": self.request_id,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies resolution tokens with the current secret and a time-to-live."""

    def __init__(
        self, keys: KeySource | str, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = as_key_source(keys)
        self._ttl = ttl_seconds
        self._clock = clock

    @property
    def keys(self) -> KeySource:
        """Where the signer's secret comes from (approval links derive their key from it too)."""
        return self._keys

    @staticmethod
    def _sign(key: bytes, payload: str) -> str:
        return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, resolution: Resolution, holder: str, token_id: str | None = None) -> str | None:
        """A token for a `match` or `no_match` resolution, issued to the API key `holder` (its
        id), with the id `token_id` when given; None for `ambiguous`."""
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
            holder=holder,
            **({"token_id": token_id} if token_id else {}),
        )
        return self.encode(claims)

    def human(
        self,
        *,
        kind: Literal["human", "no_match"],
        entity_type: str,
        canonical_id: str | None,
        identity: Mapping[str, str | None],
        model_version: str,
        calibration_version: str,
        holder: str,
        decided_by: str,
        request_id: str,
    ) -> TokenClaims:
        """The claims of a token a person's decision on a resolution request yields (encode()
        signs them; kept as claims, so no token is ever stored)."""
        now = int(self._clock())
        return TokenClaims(
            kind=kind, entity_type=entity_type, canonical_id=canonical_id,
            identity=dict(identity), model_version=model_version,
            calibration_version=calibration_version, issued_at=now, expires_at=now + self._ttl,
            holder=holder, decided_by=decided_by, request_id=request_id,
        )  # fmt: skip

    def encode(self, claims: TokenClaims) -> str:
        """Sign `claims` under the current secret (issue() is the normal way to make a token)."""
        ring = self._keys.current()
        data = {**claims.as_dict(), "key_id": ring.key_id}
        body = json.dumps(data, sort_keys=True, separators=(",", ":"))
        payload = _b64(body.encode())
        return f"{PREFIX}.{payload}.{self._sign(ring.key(RESOLUTION_TOKENS), payload)}"

    def verify(
        self,
        token: str | None,
        *,
        entity_type: str,
        kind: TokenKind,
        bound_to: str,
    ) -> TokenClaims:
        """The token's claims, if it is genuine, issued to the API key `bound_to` (its id),
        unexpired, of this entity type and of this kind (a `human` token stands for a
        `match` one)."""
        claims = self.read(token, bound_to=bound_to)
        if claims.entity_type != entity_type:
            raise WrongEntityType(
                f"the token names a {claims.entity_type}, the action targets a {entity_type}",
                field=TOKEN_FIELD,
            )
        if claims.kind not in ACCEPTS.get(kind, (kind,)):
            raise WrongTokenKind(
                f"the action needs a {kind} token, this is a {claims.kind} token",
                field=TOKEN_FIELD,
            )
        return claims

    def read(self, token: str | None, *, bound_to: str | None = None) -> TokenClaims:
        """The claims of a genuine, unexpired token of any kind and entity type (issued to
        `bound_to` when given)."""
        if not token:
            raise TokenMissing("a resolution token is required", field=TOKEN_FIELD)
        parts = token.split(".")
        # Tokens are ASCII by construction; anything else is not one (and must not reach HMAC).
        if len(parts) != 3 or parts[0] != PREFIX or not token.isascii():
            raise TokenMalformed("not a Canon resolution token", field=TOKEN_FIELD)
        _, payload, signature = parts
        ring = self._keys.current()
        expected = self._sign(ring.key(RESOLUTION_TOKENS), payload)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            if self._claimed_key_id(payload) in ring.retired:
                raise TokenRotated(
                    "the token was signed with a secret that has since been rotated: resolve again",
                    field=TOKEN_FIELD,
                )
            raise TokenForged("the token's signature does not match", field=TOKEN_FIELD)
        claims = self._decode(payload)
        if bound_to is not None and claims.holder != bound_to:
            raise TokenNotYours(
                "the token was issued to another API key: resolve with your own key",
                field=TOKEN_FIELD,
            )
        if self._clock() >= claims.expires_at:
            raise TokenExpired("the token has expired: resolve again", field=TOKEN_FIELD)
        return claims

    @staticmethod
    def _claimed_key_id(payload: str) -> str | None:
        """The key id an unverified payload names (only to explain a refusal, never to trust)."""
        try:
            value = json.loads(_unb64(payload)).get("key_id")
        except (ValueError, TypeError, AttributeError, binascii.Error):
            return None
        return value if isinstance(value, str) else None

    @staticmethod
    def _decode(payload: str) -> TokenClaims:
        try:
            data = json.loads(_unb64(payload))
            return TokenClaims(**data)
        except (ValueError, TypeError, binascii.Error) as e:
            # Signed by us yet unreadable: only a token from an incompatible version gets here.
            raise TokenMalformed("unreadable token payload", field=TOKEN_FIELD) from e
