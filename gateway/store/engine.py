"""Opening the store: an engine for SQLite or PostgreSQL, migrated by the shipped Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import StoreError

if TYPE_CHECKING:
    from gateway.checkpoints import CheckpointSink

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Where a session finds the audit chain's HMAC key (absent: plain SHA-256, as before).
AUDIT_CHAIN_KEY = "canon.audit_chain_key"


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so concurrent writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling would defer BEGIN; we emit it ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_store_engine(url: str) -> Engine:
    """An engine for the store at `url`; a SQLite file's directory is created when missing."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"invalid database URL {url!r}: {e}") from e
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() != "postgresql":
        backend = parsed.get_backend_name()
        raise StoreError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the store's schema to the latest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as e:
        raise StoreError(f"cannot migrate the store at {engine.url!r}: {e}") from e


@dataclass(frozen=True)
class Store:
    """The gateway's database: an engine and the sessions made from it."""

    engine: Engine
    sessions: sessionmaker[Session]
    #: Where signed audit checkpoints go after each commit (gateway.checkpoints); None: nowhere.
    checkpoints: CheckpointSink | None = None

    @classmethod
    def open(
        cls, url: str, *, migrate_schema: bool = True, checkpoints: CheckpointSink | None = None
    ) -> Store:
        """Open (and by default migrate) the store at `url`."""
        engine = create_store_engine(url)
        if migrate_schema:
            migrate(engine)
        chain_key = checkpoints.chain_key if checkpoints is not None else None
        info = {AUDIT_CHAIN_KEY: chain_key} if chain_key is not None else None
        sessions = sessionmaker(engine, expire_on_commit=False, info=info)
        if checkpoints is not None:
            checkpoints.attach(sessions)
        return cls(engine=engine, sessions=sessions, checkpoints=checkpoints)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()
