"""Canon's log configuration: JSON on stderr, and the ERP client's per-request lines kept out
of INFO (the ERP sync polls every 2 s)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from api.logging import QUIET_CLIENTS, configure_logging


@pytest.fixture
def restore() -> Iterator[None]:
    levels = {n: logging.getLogger(n).level for n in (*QUIET_CLIENTS, "")}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restore")
def test_http_client_requests_are_not_logged_at_info_but_are_at_debug() -> None:
    configure_logging("INFO")
    assert logging.getLogger("canon.api").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    configure_logging("debug")
    assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("httpcore").isEnabledFor(logging.DEBUG)
