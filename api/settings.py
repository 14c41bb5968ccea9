"""Runtime settings of the API and CLI, read from `CANON_*` environment variables.

Nothing here runs at import time: `get_settings()` builds (and caches) the settings on first call,
and `create_app(settings)` takes them as an argument so tests can pass their own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "demo", "dev", "test"})
DEMO_TOKEN_SECRET = "change-me"
MIN_SECRET_LENGTH = 32
REPO_CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


class Settings(BaseSettings):
    """Everything the running service needs to know about its environment."""

    model_config = SettingsConfigDict(env_prefix="CANON_", extra="ignore", frozen=True)

    mode: Literal["demo", "production"] = Field(
        default="demo", description="`production` refuses placeholder secrets"
    )
    workdir: Path = Field(default=Path("var"), description="Trained models and the SQLite store")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the store; default: SQLite under the workdir"
    )
    token_secret: SecretStr = Field(
        default=SecretStr(DEMO_TOKEN_SECRET), description="HMAC key of resolution tokens"
    )
    token_ttl_seconds: int = Field(default=900, gt=0, le=86_400)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    actions_file: Path = Field(default=REPO_CONFIG_DIR / "actions.yaml")
    ledger_path: Path | None = Field(
        default=None, description="SQLite file of the local ledger ERP; default under the workdir"
    )
    promotion_min_proposals: int = Field(default=50, ge=1)
    promotion_min_approval_rate: float = Field(default=0.95, gt=0.0, le=1.0)
    burst_window_seconds: int = Field(default=60, gt=0)
    burst_max_actions: int = Field(default=30, gt=0)
    amount_z_threshold: float = Field(default=3.5, gt=0.0)
    approval_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        secret = self.token_secret.get_secret_value()
        if self.mode == "production" and (
            secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                "CANON_TOKEN_SECRET is a placeholder or shorter than "
                f"{MIN_SECRET_LENGTH} characters; set a real secret in production mode"
            )
        return self

    @property
    def store_url(self) -> str:
        """The store's SQLAlchemy URL: `database_url`, or a SQLite file in the workdir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workdir / 'canon.sqlite').resolve()}"

    @property
    def ledger_file(self) -> Path:
        """The local ledger ERP's SQLite file."""
        return self.ledger_path or self.workdir / "ledger.sqlite"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
