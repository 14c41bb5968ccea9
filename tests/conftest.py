"""Shared fixtures: the store's database on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store import Store
from tests.db import postgres_schema_url

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'canon.sqlite'}"
        return
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests (`slow`) first, the rest in their order: pytest-xdist hands tests out in this
    order, so both workers start on the long ones and end together on short ones, instead of
    one worker running a long test alone while the other has nothing left."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
