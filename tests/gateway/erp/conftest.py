"""A sandbox ERP per test: called in process, or over a real socket for `@pytest.mark.network`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.erp.sandbox import Sandbox, running_sandbox, wants_network


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path / "sandbox", network=wants_network(request)) as running:
        yield running
