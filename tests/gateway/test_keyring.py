"""The master secret: a private random file per workdir, separate keys per purpose, rotation that
refuses what the old secret signed with that reason, and a running signer that sees the rotation."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from gateway.channels.links import SALT, LinkRefused, LinkSigner
from gateway.errors import SecretError, TokenForged, TokenNotYours, TokenRotated
from gateway.keyring import (
    APPROVAL_LINKS,
    RESOLUTION_TOKENS,
    SecretFile,
    StaticKeys,
    create_secret_file,
    read_secret_file,
    rotate_secret_file,
)
from gateway.tokens import TokenSigner
from resolver.types import Decision, Resolution

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _match() -> Resolution:
    return Resolution(decision=Decision.MATCH, entity_type="supplier",
                      canonical_id="SA2:01:000123:01", candidates=[], reason="test",
                      model_version="m", calibration_version="c")  # fmt: skip


def _link(signer: LinkSigner) -> str:
    return signer.issue(approval_id="ap-1", payload_hash="h" * 64, user_id="u1",
                        decision="approve", expires_at=NOW + timedelta(days=1))  # fmt: skip


def test_a_new_secret_file_is_random_private_and_made_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secret.key"
    assert create_secret_file(path) is True
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first.strip()) == 64
    assert create_secret_file(path) is False and path.read_text() == first
    assert (
        create_secret_file(tmp_path / "other.key") and (tmp_path / "other.key").read_text() != first
    )


def test_an_unsafe_or_empty_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("short")
    path.chmod(0o600)
    with pytest.raises(SecretError, match="fewer than 32"):
        read_secret_file(path)
    path.write_text("x" * 64)
    path.chmod(0o640)
    with pytest.raises(SecretError, match="readable by others"):
        read_secret_file(path)


def test_tokens_and_links_use_different_keys() -> None:
    ring = StaticKeys("m" * 40).current()
    assert ring.key(RESOLUTION_TOKENS) != ring.key(APPROVAL_LINKS)
    assert ring.key(RESOLUTION_TOKENS) != b"m" * 40
    # A link signed with the raw secret (the old scheme) or the token key is not authentic.
    links = LinkSigner(StaticKeys("m" * 40))
    for key in (b"m" * 40, ring.key(RESOLUTION_TOKENS)):
        forged = URLSafeSerializer(key, salt=SALT).dumps(
            {"a": "ap-1", "h": "h", "u": "u1", "d": "approve", "e": 2_000_000_000, "j": "x"}
        )
        with pytest.raises(LinkRefused) as refused:
            links.verify(str(forged), NOW)
        assert refused.value.reason == "tampered"


def test_rotation_refuses_old_tokens_and_links_with_that_reason(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    keys = SecretFile(path, create=True)
    tokens, links = TokenSigner(keys, 600), LinkSigner(keys)
    old_token, old_link = tokens.issue(_match(), "key-a"), _link(links)
    tokens.verify(old_token, entity_type="supplier", kind="match", bound_to="key-a")
    old_id, new_id = rotate_secret_file(path)
    assert old_id != new_id and keys.current().key_id == new_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(TokenRotated, match="rotated: resolve again"):
        tokens.verify(old_token, entity_type="supplier", kind="match", bound_to="key-a")
    with pytest.raises(LinkRefused) as refused:
        links.verify(old_link, NOW)
    assert refused.value.reason == "rotated"
    tokens.verify(
        tokens.issue(_match(), "key-a"), entity_type="supplier", kind="match", bound_to="key-a"
    )
    assert links.verify(_link(links), NOW).approval_id == "ap-1"
    # Another secret's token is still a forgery, not a rotation.
    stranger = TokenSigner("s" * 40, 600).issue(_match(), "key-a")
    with pytest.raises(TokenForged):
        tokens.verify(stranger, entity_type="supplier", kind="match", bound_to="key-a")


def test_a_token_is_bound_to_the_key_it_was_issued_to() -> None:
    signer = TokenSigner("s" * 40, 600)
    token = signer.issue(_match(), holder="key-a")
    assert signer.verify(token, entity_type="supplier", kind="match", bound_to="key-a").holder
    with pytest.raises(TokenNotYours):
        signer.verify(token, entity_type="supplier", kind="match", bound_to="key-b")
    # A genuine token that names no key (as issued before tokens were bound) binds to none.
    claims = signer.verify(token, entity_type="supplier", kind="match", bound_to="key-a")
    unbound = signer.encode(replace(claims, holder=None))
    with pytest.raises(TokenNotYours):
        signer.verify(unbound, entity_type="supplier", kind="match", bound_to="key-a")
