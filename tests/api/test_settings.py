"""Settings: environment prefix, defaults, the refusal of placeholder secrets in every mode, and
where the master secret comes from (a per-workdir random file unless one is configured)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.settings import Settings, get_settings, token_keys
from gateway.errors import SecretError


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CANON_WORKDIR", str(tmp_path))
    monkeypatch.setenv("CANON_PORT", "8123")
    monkeypatch.setenv("CANON_TOKEN_TTL_SECONDS", "60")
    settings = Settings()
    assert settings.workdir == tmp_path
    assert settings.port == 8123
    assert settings.token_ttl_seconds == 60


def test_default_store_is_sqlite_under_workdir(tmp_path: Path) -> None:
    settings = Settings(workdir=tmp_path)
    assert settings.store_url == f"sqlite:///{tmp_path.resolve() / 'canon.sqlite'}"
    assert settings.ledger_file == tmp_path / "ledger.sqlite"


def test_database_url_wins_over_workdir(tmp_path: Path) -> None:
    url = "postgresql+psycopg://u@127.0.0.1:5432/canon"
    assert Settings(workdir=tmp_path, database_url=url).store_url == url


@pytest.mark.parametrize("mode", ["demo", "production"])
@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("change-me", id="old-shipped-placeholder"),
        pytest.param("secret", id="word-secret"),
        pytest.param("x" * 31, id="too-short"),
    ],
)
def test_every_mode_refuses_placeholder_secret(mode: str, secret: str) -> None:
    with pytest.raises(ValidationError, match="CANON_TOKEN_SECRET"):
        Settings(mode=mode, token_secret=SecretStr(secret))  # type: ignore[arg-type]


def test_production_needs_a_given_secret_and_accepts_a_real_one(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CANON_TOKEN_SECRET_FILE"):
        Settings(mode="production", workdir=tmp_path)
    assert Settings(mode="production", token_secret=SecretStr("k" * 40)).mode == "production"
    given = Settings(mode="production", token_secret_file=tmp_path / "s.key")
    assert given.secret_file == tmp_path / "s.key"


def test_demo_makes_a_private_random_secret_per_workdir(tmp_path: Path) -> None:
    settings = Settings(workdir=tmp_path / "a")
    assert settings.token_secret is None
    keys, source = token_keys(settings)
    path = tmp_path / "a" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert source.startswith(f"a new random secret in {path}")
    assert path.read_text().strip() not in source  # the source is named, the value never
    again, source_again = token_keys(settings)
    assert again.current().key_id == keys.current().key_id  # made once, then reused
    assert source_again.startswith(f"the secret file {path}")
    other = token_keys(Settings(workdir=tmp_path / "b"))[0]
    assert other.current().key_id != keys.current().key_id


def test_a_named_secret_file_must_exist_and_be_private(tmp_path: Path) -> None:
    path = tmp_path / "given.key"
    with pytest.raises(SecretError, match="cannot read"):
        token_keys(Settings(token_secret_file=path))
    path.write_text("g" * 64)
    path.chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        token_keys(Settings(token_secret_file=path))
    path.chmod(0o600)
    assert token_keys(Settings(token_secret_file=path))[1].startswith(f"the secret file {path}")
    assert not (tmp_path / "secret.key").exists()


def test_a_configured_secret_is_used_as_given(tmp_path: Path) -> None:
    keys, source = token_keys(Settings(workdir=tmp_path, token_secret=SecretStr("c" * 40)))
    assert keys.current().secret == b"c" * 40
    assert source == "the CANON_TOKEN_SECRET setting"
    assert not (tmp_path / "secret.key").exists()


def test_unknown_mode_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANON_MODE", "staging")
    with pytest.raises(ValidationError, match="mode"):
        Settings()


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        first = get_settings()
        monkeypatch.setenv("CANON_PORT", "9999")
        assert get_settings() is first
    finally:
        get_settings.cache_clear()


def test_the_settle_window_must_outlast_canons_own_erp_timeout(tmp_path: Path) -> None:
    """A stock ERP's records are trusted only after its longest request: a window shorter than
    Canon's own wait for an answer would re-send writes still being processed."""
    with pytest.raises(ValidationError, match="CANON_ERP_SETTLE_SECONDS must exceed"):
        Settings(workdir=tmp_path, erp_timeout_seconds=30, erp_settle_seconds=30)
    assert Settings(workdir=tmp_path, erp_timeout_seconds=30).erp_settle_seconds == 600
