"""Runtime settings of the API and CLI, read from `CANON_*` environment variables.

Nothing here runs at import time: `get_settings()` builds (and caches) the settings on first call,
and `create_app(settings)` takes them as an argument so tests can pass their own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.checkpoints import CheckpointSink
from gateway.erp.protheus import bank_fields
from gateway.erp.registry import kind as erp_kind
from gateway.keyring import AUDIT_CHAIN, AUDIT_ENTRIES, KeySource, SecretFile, StaticKeys

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "demo", "dev", "test"})
MIN_SECRET_LENGTH = 32
SECRET_FILE_NAME = "secret.key"
REPO_CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


class Rate(BaseModel):
    """A sustained rate and the burst a token bucket holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float = Field(gt=0.0)
    burst: int = Field(ge=1)


DEFAULT_ROLE_RATES = {
    "agent": Rate(per_second=20.0, burst=60),
    "approver": Rate(per_second=5.0, burst=30),
    "steward": Rate(per_second=10.0, burst=30),
    "admin": Rate(per_second=10.0, burst=30),
}


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
    token_secret: SecretStr | None = Field(
        default=None,
        description="Master secret of resolution tokens and approval links (keys derived by "
        "HKDF); unset: a random one in <workdir>/secret.key, made on first use",
    )
    token_secret_file: Path | None = Field(
        default=None,
        description="File holding the master secret (mode 0600; `canon secret rotate` rotates "
        "it); must exist. Default: <workdir>/secret.key, created if missing (demo mode only)",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="Secret file that keys the audit chain and signs its checkpoints (mode 0600, "
        "never rotated with the token secret); default <workdir>/audit.key, created on first use",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="Append-only file of signed audit checkpoints, kept outside the database; "
        "default <workdir>/audit-checkpoints.jsonl",
    )
    token_ttl_seconds: int = Field(default=900, gt=0, le=86_400)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes of `canon serve`, sharing one memory-mapped index (`--workers`)",
    )
    # Rate limits, MCP transport checks and logs (api/ratelimit.py, api/mcp/, api/logging.py).
    rate_limit_roles: dict[str, Rate] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_RATES),
        description='Per key, by role: {"agent": {"per_second": 20, "burst": 60}, ...}',
    )
    rate_limit_actions: dict[str, Rate] = Field(
        default_factory=dict,
        description='Per key, by action name or pattern: {"supplier.*": {"per_second": 1, ...}}',
    )
    mcp_allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*", "[::1]:*"],
        description="Host headers the /mcp endpoint answers (DNS rebinding); `name:*` any port",
    )
    mcp_allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        description="Origin headers /mcp accepts from browsers; requests without Origin pass",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
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
    approval_account_window_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=0,
        description="Dual approval refuses two approvers when one's person created or changed "
        "the other's account within this window",
    )
    # Approval channels (portal, email, Slack) and their clockwork.
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL of links in emails and Slack"
    )
    approval_escalate_after_seconds: int | None = Field(
        default=5 * 24 * 3600, gt=0, description="Escalate a request still pending after this"
    )
    approval_notify_group: str = Field(default="approvers", min_length=1)
    approval_escalation_group: str = Field(default="escalation", min_length=1)
    approval_sweep_seconds: float = Field(
        default=5.0,
        ge=0.0,
        description="How often the API process expires, escalates and "
        "sends approval messages; 0 turns the background sweep off",
    )
    portal_session_ttl_seconds: int = Field(default=8 * 3600, gt=0)
    portal_login_free_attempts: int = Field(
        default=3, ge=0, description="Failed sign-ins per account or address before backoff"
    )
    portal_login_max_delay_seconds: float = Field(
        default=300.0, gt=0.0, description="Longest wait the sign-in backoff imposes"
    )
    portal_login_lock_after: int = Field(
        default=10, ge=1, description="Consecutive failed sign-ins that lock an account"
    )
    rate_limit_anonymous: Rate = Field(
        default=Rate(per_second=10.0, burst=100),
        description="Per source address, on the doors without an API key (portal, Slack)",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; unset: no email")
    smtp_port: int = Field(default=25, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_from: str = "Canon approvals <canon@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0.0)
    slack_bot_token: SecretStr | None = Field(default=None, description="unset: no Slack")
    slack_signing_secret: SecretStr | None = None
    slack_channel: str | None = None
    slack_escalation_channel: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    callback_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Webhook callbacks reach only public addresses, and these: host names, "
        'addresses or networks, e.g. ["hooks.internal", "10.20.0.0/16"]',
    )

    # The ERP Canon writes to, and the durable workflows that write (gateway/workflow*.py).
    erp_kind: str = Field(
        default="ledger",
        description="ledger: a SQLite ERP in the workdir; protheus | sap | oracle: at erp_url "
        "(any kind registered in gateway.erp.registry)",
    )
    erp_url: str | None = Field(default=None, description="Base URL of the ERP's REST/OData API")
    erp_username: str | None = None
    erp_password: SecretStr | None = None
    erp_auth: Literal["basic", "oauth2"] = Field(
        default="basic", description="Protheus: basic auth or the OAuth2 password grant"
    )
    erp_timeout_seconds: float = Field(default=10.0, gt=0.0, le=300.0)
    erp_lookup_service: Literal["probe", "installed", "absent"] = Field(
        default="probe",
        description="Canon's look-up of writes by idempotency key on the ERP (SAP "
        "ZCANON_IDEMPOTENCY_SRV, Oracle canonOperations, Protheus operations): probe: ask the "
        "ERP once; installed / absent: as configured, never probed (docs/ERP.md)",
    )
    erp_protheus_filial_width: int = Field(
        default=2,
        ge=1,
        le=12,
        description="Protheus: the width of the filial (branch) code in primary keys, as the "
        "installation sets it (often 8)",
    )
    erp_protheus_bank_fields: str = Field(
        default="standard",
        max_length=200,
        description="Protheus: the SA2 fields of a supplier's bank account, by role: 'standard' "
        "(A2_BANCO, A2_AGENCIA, A2_NUMCON) and/or the installation's own fields, e.g. "
        "'iban=A2_XIBAN,account_holder=A2_XTITULA' (docs/ERP.md)",
    )
    erp_sap_grouping: str | None = Field(
        default=None,
        max_length=4,
        description="SAP: the business-partner grouping new suppliers get (configured per "
        "system); unset: the system's default",
    )
    erp_sap_block_field: Literal[
        "BusinessPartnerIsBlocked", "PurchasingIsBlocked", "PostingIsBlocked"
    ] = Field(
        default="BusinessPartnerIsBlocked",
        description="SAP: which block supplier.block sets: the central block of the business "
        "partner, or the supplier's purchasing or posting block",
    )
    erp_settle_seconds: float = Field(
        default=600.0,
        gt=0.0,
        le=86_400.0,
        description="Stock ERPs (no look-up by idempotency key): how long after a send Canon "
        "waits before it trusts the ERP's records that the write did not happen and sends it "
        "again; longer than the ERP's own request timeout plus the time a request takes to "
        "reach it (docs/ERP.md)",
    )
    erp_sync_seconds: float = Field(
        default=0.0,
        ge=0.0,
        description="How often the API pulls the ERP's changes into the serving index by "
        "watermark (`canon serve --sync`: 2); 0: never",
    )
    workflow_sweep_seconds: float = Field(
        default=5.0,
        ge=0.0,
        description="How often the API process resumes interrupted workflows; 0: never",
    )
    workflow_workers: int = Field(default=4, ge=1, le=64)
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis (redis://host:6379/0) for the state every worker and replica shares: "
        "rate-limit buckets and sign-in failure counts; unset: the store keeps them",
    )
    redis_key_prefix: str = Field(
        default="canon:",
        min_length=1,
        max_length=100,
        description="Prefix of Canon's Redis keys: deployments sharing one Redis need their own",
    )
    workflow_lease_seconds: float = Field(default=60.0, gt=0.0)
    workflow_start_grace_seconds: float = Field(default=5.0, ge=0.0)
    workflow_call_attempts: int = Field(default=4, ge=1, le=20)
    workflow_retry_after_seconds: float = Field(default=5.0, gt=0.0)
    workflow_max_claims: int = Field(default=20, ge=1)

    @field_validator("erp_kind")
    @classmethod
    def _check_erp_kind(cls, value: str) -> str:
        erp_kind(value)  # UnknownErpKind (a ValueError) names the known kinds
        return value

    @field_validator("erp_protheus_bank_fields")
    @classmethod
    def _check_bank_fields(cls, value: str) -> str:
        bank_fields(value)  # ValueError names what is wrong
        return value

    @model_validator(mode="after")
    def _check_erp_and_workflows(self) -> Settings:
        remote = erp_kind(self.erp_kind).remote
        if remote and not self.erp_url:
            raise ValueError(f"CANON_ERP_KIND={self.erp_kind} needs CANON_ERP_URL")
        if remote and not (self.erp_username and self.erp_password):
            raise ValueError(
                f"CANON_ERP_KIND={self.erp_kind} needs CANON_ERP_USERNAME and CANON_ERP_PASSWORD"
            )
        if self.workflow_lease_seconds <= self.erp_timeout_seconds:
            raise ValueError(
                "CANON_WORKFLOW_LEASE_SECONDS must exceed CANON_ERP_TIMEOUT_SECONDS: "
                "a runner must outlive its slowest ERP call"
            )
        if self.erp_settle_seconds <= self.erp_timeout_seconds:
            raise ValueError(
                "CANON_ERP_SETTLE_SECONDS must exceed CANON_ERP_TIMEOUT_SECONDS: a send is "
                "settled only after the ERP's longest request, which outlasts Canon's wait"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        # No mode runs on a secret anyone could read in the source or guess.
        secret = self.token_secret.get_secret_value() if self.token_secret is not None else None
        if secret is not None and (
            secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH
        ):
            raise ValueError(
                "CANON_TOKEN_SECRET is a placeholder or shorter than "
                f"{MIN_SECRET_LENGTH} characters; set a random one, or unset it to use "
                "<workdir>/secret.key"
            )
        if secret is not None and self.token_secret_file is not None:
            raise ValueError("set CANON_TOKEN_SECRET or CANON_TOKEN_SECRET_FILE, not both")
        if self.mode == "production" and secret is None and self.token_secret_file is None:
            raise ValueError(
                "production mode needs CANON_TOKEN_SECRET or CANON_TOKEN_SECRET_FILE: every "
                "instance must share one secret it was given, not one it made up"
            )
        escalate = self.approval_escalate_after_seconds
        if escalate is not None and escalate >= self.approval_ttl_seconds:
            raise ValueError(
                "CANON_APPROVAL_ESCALATE_AFTER_SECONDS must be shorter than "
                "CANON_APPROVAL_TTL_SECONDS: a request escalates before it expires"
            )
        if self.slack_bot_token is not None and not (
            self.slack_channel and self.slack_signing_secret
        ):
            raise ValueError(
                "Slack needs CANON_SLACK_CHANNEL and CANON_SLACK_SIGNING_SECRET with the bot token"
            )
        return self

    @property
    def store_url(self) -> str:
        """The store's SQLAlchemy URL: `database_url`, or a SQLite file in the workdir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workdir / 'canon.sqlite').resolve()}"

    @property
    def secret_file(self) -> Path:
        """The master secret's file: `token_secret_file`, or `secret.key` in the workdir."""
        return self.token_secret_file or self.workdir / SECRET_FILE_NAME

    @property
    def ledger_file(self) -> Path:
        """The local ledger ERP's SQLite file."""
        return self.ledger_path or self.workdir / "ledger.sqlite"


def token_keys(settings: Settings) -> tuple[KeySource, str]:
    """Where the master secret comes from, and a sentence naming that source (never the value).

    A configured secret wins; else the secret file, created with a random secret and mode 0600
    when it is the workdir's default file and does not exist yet.
    """
    if settings.token_secret is not None:
        keys = StaticKeys(settings.token_secret.get_secret_value(), "CANON_TOKEN_SECRET")
        return keys, "the CANON_TOKEN_SECRET setting"
    path = settings.secret_file
    secret_file = SecretFile(path, create=settings.token_secret_file is None)
    made = "a new random secret in " if secret_file.created else "the secret file "
    return secret_file, f"{made}{path} (key id {secret_file.current().key_id})"


def audit_sink(settings: Settings) -> CheckpointSink:
    """Where signed audit checkpoints go, signed with the audit key (made if it is missing and
    is the workdir's default file)."""
    key_path = settings.audit_key_file or settings.workdir / "audit.key"
    ring = SecretFile(key_path, create=settings.audit_key_file is None).current()
    path = settings.audit_checkpoint_file or settings.workdir / "audit-checkpoints.jsonl"
    return CheckpointSink(path, ring.key(AUDIT_CHAIN), chain_key=ring.key(AUDIT_ENTRIES))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
