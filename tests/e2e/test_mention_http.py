"""Free-text mentions over real HTTP: `{"text": ...}` on /v1/resolve resolves a sample supplier,
says how the sentence was read, and a sentence naming nothing is `no_match`, not an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from gateway import Gateway, create_key
from resolver import Resolver
from tests.e2e.conftest import serving


@pytest.fixture
def http(tmp_path: Path, store_url: str, trained_resolver: Resolver) -> Iterator[httpx.Client]:
    settings = Settings(workdir=tmp_path / "work", database_url=store_url,
                        token_secret=SecretStr("e2e-secret-" + "m" * 32))  # fmt: skip
    app = create_app(settings, resolver=trained_resolver)
    gateway: Gateway = app.state.gateway
    with gateway.store.transaction() as session:
        _, key = create_key(session, "agent", "agent", ["resolve"])
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client
    gateway.store.close()


def test_text_resolves_a_supplier_over_http(http: httpx.Client) -> None:
    text = (
        "Bitte den Lieferanten NOGUEIRA IND. METALURGICA in Limeira sperren,"
        " CNPJ 23.927.267/0003-96"
    )
    response = http.post("/v1/resolve", json={"id": "m1", "text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["decision"], body["canonical_id"]) == ("match", "SA2::000002:03")
    assert body["resolution_token"].startswith("ct1.")
    # As the resolver compares it: folded, legal form and abbreviations dealt with, umlaut-like
    # `ue` folded (Müller = Mueller), so NOGUEIRA reads `noguira` on both sides.
    assert body["query_identity"] == {
        "name": "noguira industria metalurgica", "tax_id": "23927267000396",
        "tax_id_kind": "cnpj", "city": "limeira", "entity_type": "supplier",
    }  # fmt: skip


def test_a_sentence_naming_nothing_is_no_match(http: httpx.Client) -> None:
    response = http.post("/v1/resolve", json={"text": "please block the supplier, thanks!"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"] == "no_match"
    assert "names nothing to search on" in body["reason"]
    assert body["candidates"] == []


def test_blank_or_oversized_text_is_a_4xx_naming_the_field(http: httpx.Client) -> None:
    blank = http.post("/v1/resolve", json={"text": " "})
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["record"]
    long = http.post("/v1/resolve", json={"text": "x" * 2001})
    assert long.status_code in (413, 422)
