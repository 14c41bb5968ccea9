"""Settings: environment prefix, defaults, and the refusal of placeholder secrets in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.settings import Settings, get_settings


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


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("change-me", id="shipped-placeholder"),
        pytest.param("secret", id="word-secret"),
        pytest.param("x" * 31, id="too-short"),
    ],
)
def test_production_refuses_placeholder_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="CANON_TOKEN_SECRET"):
        Settings(mode="production", token_secret=SecretStr(secret))


def test_production_accepts_real_secret_and_demo_accepts_placeholder() -> None:
    assert Settings(mode="production", token_secret=SecretStr("k" * 40)).mode == "production"
    assert Settings(mode="demo").token_secret.get_secret_value() == "change-me"


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
