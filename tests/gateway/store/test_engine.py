"""The store opens, migrates (idempotently), matches its models, and keeps aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from gateway.errors import StoreError
from gateway.store import Action, ApiKey, AuditHead, Base, Store, create_store_engine

TABLES = {
    "actions",
    "api_keys",
    "approval_decisions",
    "approvals",
    "audit_entries",
    "audit_head",
    "labels",
    "rollout_state",
    "workflow_steps",
}


def _key(key_id: str = "k1") -> ApiKey:
    now = datetime.now(UTC)
    return ApiKey(
        id=key_id, name="agent", role="agent", scopes=[], secret_hash="0" * 64, created_at=now
    )


def _action(action_id: str, idem: str, key_id: str = "k1") -> Action:
    now = datetime.now(UTC)
    return Action(
        id=action_id, action_type="ticket.close", status="shadowed", requested_by=key_id,
        idempotency_key=idem, payload_hash="h" * 64, target={}, params={}, context={},
        risk="low_risk", phase="read_only", outcome={}, flags=[], summary="s",
        created_at=now, updated_at=now,
    )  # fmt: skip


def test_migration_creates_every_table_and_seeds_audit_head(store: Store) -> None:
    assert TABLES <= set(inspect(store.engine).get_table_names())
    with store.transaction() as session:
        head = session.get(AuditHead, 1)
        assert head is not None and (head.seq, head.hash) == (0, "0" * 64)


def test_migrations_match_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_reopening_migrated_store_changes_nothing(store_url: str) -> None:
    first = Store.open(store_url)
    with first.transaction() as session:
        session.add(_key())
    first.close()
    again = Store.open(store_url)
    with again.transaction() as session:
        assert session.get(ApiKey, "k1") is not None
    again.close()


def test_datetimes_round_trip_as_aware_utc(store: Store) -> None:
    created = datetime(2026, 4, 12, 9, 30, tzinfo=timezone(timedelta(hours=-3)))
    with store.transaction() as session:
        key = _key()
        key.created_at = created
        session.add(key)
    with store.transaction() as session:
        loaded = session.scalars(select(ApiKey)).one()
        assert loaded.created_at == created
        assert loaded.created_at.tzinfo is not None
        assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_datetime_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.transaction() as session:
        key = _key()
        key.created_at = datetime(2026, 1, 1)
        session.add(key)


def test_idempotency_key_unique_per_requester(store: Store) -> None:
    with store.transaction() as session:
        session.add_all([_key("k1"), _key("k2")])
    with store.transaction() as session:
        session.add_all([_action("a1", "same", "k1"), _action("a2", "same", "k2")])
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(_action("a3", "same", "k1"))


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mysql://u@h/db", id="unsupported-backend"),
        pytest.param("not a url", id="garbage"),
    ],
)
def test_bad_url_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError):
        create_store_engine(url)
