"""The real app over each store backend, with keys made through the gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from gateway import Gateway, create_key
from resolver.types import Decision, Resolution
from tests.tokens import issue_for


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(
        workdir=tmp_path / "work",
        database_url=store_url,
        token_secret=SecretStr("api-test-secret-" + "y" * 32),
        max_body_bytes=4096,
        callback_allowed_hosts=["127.0.0.1"],  # the webhook receiver of these tests
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    app.state.gateway.store.close()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


KeyMaker = Callable[..., dict[str, str]]


@pytest.fixture
def auth(app: FastAPI) -> KeyMaker:
    """Make a key; return the Authorization header: auth("agent", ["actions:*"])."""

    def make(
        role: str = "agent", scopes: list[str] | None = None, name: str = "k"
    ) -> dict[str, str]:
        if scopes is None:
            scopes = ["resolve", "actions:*"] if role == "agent" else []
        gateway: Gateway = app.state.gateway
        with gateway.store.transaction() as session:
            _, key = create_key(session, name, role, scopes)
        return {"Authorization": f"Bearer {key}"}

    return make


def po_token(
    app: FastAPI,
    agent: dict[str, str],
    entity_type: str = "purchase_order",
    canonical_id: str = "SC7:01:002891",
    decision: Decision = Decision.MATCH,
) -> str:
    """A token from the app's own signer, as /v1/resolve would issue it to the key in the
    Authorization header `agent`."""
    resolution = Resolution(
        decision=decision, entity_type=entity_type,
        canonical_id=canonical_id if decision is Decision.MATCH else None,
        candidates=[], reason="test", model_version="m", calibration_version="c",
    )  # fmt: skip
    return issue_for(app.state.gateway, resolution, agent)
