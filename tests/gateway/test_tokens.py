"""Resolution tokens: issued for match/no_match; refused when missing, forged, expired, misused."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import (
    TokenError,
    TokenExpired,
    TokenForged,
    TokenMalformed,
    TokenMissing,
    TokenNotYours,
    WrongEntityType,
    WrongTokenKind,
)
from gateway.tokens import TokenSigner
from resolver.types import Decision, Resolution

T0 = 1_780_000_000.0
SECRET = "s" * 40
HOLDER = "key-a"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _resolution(decision: Decision, **kw: object) -> Resolution:
    data: dict[str, object] = {
        "decision": decision,
        "entity_type": "supplier",
        "canonical_id": "SA2:01:000123:01" if decision is Decision.MATCH else None,
        "candidates": [],
        "reason": "test",
        "model_version": "m-7",
        "calibration_version": "c-3",
        "query_identity": {"name": "abc manufacturing", "tax_id": "11222333000181"},
    }
    data.update(kw)
    return Resolution.model_validate(data)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signer(clock: Clock) -> TokenSigner:
    return TokenSigner(SECRET, ttl_seconds=600, clock=clock)


def test_match_token_binds_id_and_versions(signer: TokenSigner) -> None:
    token = signer.issue(_resolution(Decision.MATCH), HOLDER)
    claims = signer.verify(token, entity_type="supplier", kind="match", bound_to=HOLDER)
    assert (claims.canonical_id, claims.model_version, claims.calibration_version) == (
        "SA2:01:000123:01",
        "m-7",
        "c-3",
    )
    assert claims.expires_at == int(T0) + 600
    assert claims.identity == {}


def test_no_match_token_binds_queried_identity(signer: TokenSigner) -> None:
    token = signer.issue(_resolution(Decision.NO_MATCH), HOLDER)
    claims = signer.verify(token, entity_type="supplier", kind="no_match", bound_to=HOLDER)
    assert claims.canonical_id is None
    assert claims.identity == {"name": "abc manufacturing", "tax_id": "11222333000181"}


def test_ambiguous_gets_no_token(signer: TokenSigner) -> None:
    assert signer.issue(_resolution(Decision.AMBIGUOUS), HOLDER) is None


def test_each_token_is_unique(signer: TokenSigner) -> None:
    res = _resolution(Decision.MATCH)
    assert signer.issue(res, HOLDER) != signer.issue(res, HOLDER)


def _tamper_payload(token: str) -> str:
    prefix, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["canonical_id"] = "SA2:01:999999:01"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{prefix}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("make_token", "error"),
    [
        pytest.param(lambda s, t: None, TokenMissing, id="missing"),
        pytest.param(lambda s, t: "", TokenMissing, id="empty"),
        pytest.param(lambda s, t: "SA2:01:000123:01", TokenMalformed, id="a-bare-id"),
        pytest.param(lambda s, t: "ct1.abc", TokenMalformed, id="two-parts"),
        pytest.param(lambda s, t: "jwt" + t[3:], TokenMalformed, id="other-prefix"),
        pytest.param(lambda s, t: _tamper_payload(t), TokenForged, id="edited-canonical-id"),
        pytest.param(
            lambda s, t: TokenSigner("other" * 8, 600).issue(_resolution(Decision.MATCH), HOLDER),
            TokenForged,
            id="signed-with-another-secret",
        ),
        pytest.param(lambda s, t: t[:-2], TokenForged, id="truncated-signature"),
    ],
)
def test_refused_tokens(signer: TokenSigner, make_token, error: type[TokenError]) -> None:  # type: ignore[no-untyped-def]
    token = make_token(signer, signer.issue(_resolution(Decision.MATCH), HOLDER))
    with pytest.raises(error) as refused:
        signer.verify(token, entity_type="supplier", kind="match", bound_to=HOLDER)
    assert refused.value.field == "target.resolution_token"


@pytest.mark.parametrize(
    ("elapsed", "ok"),
    [
        pytest.param(599, True, id="just-before-expiry"),
        pytest.param(600, False, id="at-expiry"),
        pytest.param(86_400, False, id="a-day-later"),
    ],
)
def test_expiry(signer: TokenSigner, clock: Clock, elapsed: int, ok: bool) -> None:
    token = signer.issue(_resolution(Decision.MATCH), HOLDER)
    clock.now = T0 + elapsed
    if ok:
        signer.verify(token, entity_type="supplier", kind="match", bound_to=HOLDER)
    else:
        with pytest.raises(TokenExpired):
            signer.verify(token, entity_type="supplier", kind="match", bound_to=HOLDER)


def test_wrong_entity_type(signer: TokenSigner) -> None:
    token = signer.issue(_resolution(Decision.MATCH), HOLDER)
    with pytest.raises(WrongEntityType, match="names a supplier.*targets a purchase_order"):
        signer.verify(token, entity_type="purchase_order", kind="match", bound_to=HOLDER)


@pytest.mark.parametrize(
    ("decision", "needed"),
    [
        pytest.param(Decision.MATCH, "no_match", id="match-token-for-a-creation"),
        pytest.param(Decision.NO_MATCH, "match", id="no-match-token-for-an-update"),
    ],
)
def test_wrong_kind(signer: TokenSigner, decision: Decision, needed: str) -> None:
    token = signer.issue(_resolution(decision), HOLDER)
    with pytest.raises(WrongTokenKind):
        signer.verify(token, entity_type="supplier", kind=needed, bound_to=HOLDER)  # type: ignore[arg-type]


@given(position=st.integers(min_value=0), replacement=st.sampled_from("AbZ09-_."))
def test_no_single_character_edit_verifies(position: int, replacement: str) -> None:
    signer = TokenSigner(SECRET, 600, clock=lambda: T0)
    token = signer.issue(_resolution(Decision.MATCH), HOLDER)
    assert token is not None
    i = position % len(token)
    edited = token[:i] + replacement + token[i + 1 :]
    if edited == token:
        return
    # The MAC covers the payload's text, not its decoded bytes: no edit slips through padding.
    with pytest.raises(TokenError):
        signer.verify(edited, entity_type="supplier", kind="match", bound_to=HOLDER)


def test_another_keys_token_is_refused_before_saying_anything_about_its_content(
    signer: TokenSigner,
) -> None:
    token = signer.issue(_resolution(Decision.MATCH), HOLDER)
    # Wrong entity type and kind too: the thief learns only that the token is not theirs.
    with pytest.raises(TokenNotYours) as refused:
        signer.verify(token, entity_type="purchase_order", kind="no_match", bound_to="key-b")
    assert refused.value.field == "target.resolution_token"
    assert "another API key" in refused.value.message
