"""Test databases: a SQLite file per test, or a fresh PostgreSQL schema per test, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

POSTGRES_URL_ENV = "CANON_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "CANON_REQUIRE_POSTGRES"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"PostgreSQL required ({REQUIRE_POSTGRES_ENV}=1) but {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections live in a new, empty schema (dropped on exit)."""
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        _unavailable(f"{POSTGRES_URL_ENV} is not set")
        raise AssertionError("unreachable")
    schema = f"canon_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as e:
        admin.dispose()
        _unavailable(f"cannot reach {make_url(base).render_as_string()}: {e.orig}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


REDIS_URL_ENV = "CANON_TEST_REDIS_URL"
REQUIRE_REDIS_ENV = "CANON_REQUIRE_REDIS"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """The test Redis (`CANON_TEST_REDIS_URL`, default the local one) if it answers; else the
    test is skipped with the reason (failed with CANON_REQUIRE_REDIS=1, as in CI)."""
    import redis

    url = os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except redis.RedisError as e:
        reason = f"cannot reach Redis at {url} ({REDIS_URL_ENV}): {e}"
        if os.environ.get(REQUIRE_REDIS_ENV) == "1":
            pytest.fail(f"Redis required ({REQUIRE_REDIS_ENV}=1) but {reason}")
        pytest.skip(f"Redis tests skipped: {reason}")
    return url
