"""The recipes of docs/ARCHITECTURE.md ("An ERP", "An action"), followed as a newcomer would.

A toy ERP is added as one connector class registered under its kind (`gateway.erp.registry`),
talking to a toy face served on 127.0.0.1; a toy action is one catalog entry and one connector
method marked `@runs` with its operation and compensation. The real app, built from settings
that name the kind and the catalog, proposes, approves, runs and reverts the action, and the toy
ERP is found painted then unpainted. An unknown kind is refused, naming the known ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException
from pydantic import SecretStr, ValidationError

from api.app import build_connector, connector_class, create_app
from api.serving import serving
from api.settings import Settings
from gateway import Gateway, create_key, load_catalog
from gateway.erp.base import ErpOperation, ErpRecord, ErpResult
from gateway.erp.http import HttpErp, Request, RequestRunner, record, result
from gateway.erp.operations import runs
from gateway.erp.registry import ErpSettings, UnknownErpKind, access, kinds, register, unregister
from gateway.offered import not_offered
from tests.gateway.conftest import resolution
from tests.tokens import issue_for

WIDGET = "W-1"


# -- the toy ERP: its face (what the ERP's own API would be) ---------------------------------------
def toy_face() -> FastAPI:
    """A toy ERP's HTTP API: widgets that can be painted, and its writes by idempotency key."""
    face = FastAPI()
    widgets: dict[str, dict[str, Any]] = {WIDGET: {"name": "Left sprocket", "colour": "grey"}}
    done: dict[str, dict[str, Any]] = {}
    face.state.widgets = widgets

    @face.get("/widgets/{widget_id}")
    def read(widget_id: str) -> dict[str, Any]:
        if widget_id not in widgets:
            raise HTTPException(404, "no such widget")
        return widgets[widget_id]

    @face.post("/widgets/{widget_id}/colour")
    def paint(
        widget_id: str, body: dict[str, str], idempotency_key: str = Header()
    ) -> dict[str, Any]:
        if idempotency_key in done:
            return done[idempotency_key]
        if widget_id not in widgets:
            raise HTTPException(404, "no such widget")
        previous = widgets[widget_id]["colour"]
        widgets[widget_id]["colour"] = body["colour"]
        done[idempotency_key] = {"previous": previous, "colour": body["colour"]}
        return done[idempotency_key]

    @face.get("/operations/{key}")
    def lookup(key: str) -> dict[str, Any]:
        if key not in done:
            raise HTTPException(404, "never ran")
        return done[key]

    return face


# -- the toy ERP: its connector (recipe "An ERP", steps 1 and 2; "An action", step 2) --------------
class ToyConnector(RequestRunner):
    """A connector to the toy ERP: paints widgets and unpaints them."""

    name = "Toy"

    def __init__(self, base_url: str, *, username: str, password: str, timeout: float) -> None:
        auth = httpx.BasicAuth(username, password)
        self.http = HttpErp(base_url, auth=auth, timeout=timeout, name=self.name)

    @classmethod
    def from_settings(cls, settings: ErpSettings) -> ToyConnector:
        erp = access(settings)
        return cls(erp.url, username=erp.username, password=erp.password, timeout=erp.timeout)

    def read_record(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        found = self.http.json(self.http.send("GET", f"/widgets/{canonical_id}", missing_ok=True))
        return None if found is None else record(entity_type, canonical_id, found, False)

    def value_history(self, entity_type: str, canonical_id: str, field: str) -> list[float]:
        return []

    def extract(
        self, entity_type: str, source: Mapping[str, str] | None, page_size: int = 500
    ) -> Iterator[list[dict[str, str]]]:
        return iter(())

    def lookup(self, idempotency_key: str) -> ErpResult | None:
        found = self.http.json(
            self.http.send("GET", f"/operations/{idempotency_key}", missing_ok=True)
        )
        return None if found is None else result(idempotency_key, "", None, found)

    # recipe "An action", step 2: the one method that runs the action's operation and its
    # compensation (`RequestRunner.run` sends the request it gives, by idempotency key)
    @runs("widget.paint", "widget.unpaint")
    def _paint(self, operation: ErpOperation) -> Request:
        params = operation.params
        colour = (
            params["colour"]
            if operation.operation == "widget.paint"
            else params["result"]["data"]["previous"]  # the compensation: what the paint found
        )
        return "POST", f"/widgets/{operation.canonical_id}/colour", {"colour": colour}


# -- the toy action (recipe "An action", step 1) ---------------------------------------------------
CATALOG = """\
version: 1
actions:
  widget.paint:
    description: Paint a widget another colour.
    target: {entity_type: widget}
    risk: low_risk
    phase: supervised
    params:
      colour: {type: string, max_length: 20, description: The new colour, example: red}
    steps:
      - {name: paint, operation: widget.paint, compensation: widget.unpaint,
         leaves: {colour: "{params.colour}"}}
    approval_template: >-
      Approve painting {record.name} ({target.canonical_id}) {params.colour}
      (reason: {context.reason})
"""


@dataclass
class Toy:
    """The app built from settings naming the toy kind and catalog, and the toy face."""

    face: FastAPI
    app: FastAPI
    http: httpx.Client

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def key(self, role: str, name: str) -> dict[str, str]:
        scopes = ["resolve", "actions:*"] if role == "agent" else []
        with self.gateway.store.transaction() as session:
            _, secret = create_key(session, name, role, scopes)
        return {"Authorization": f"Bearer {secret}"}

    def colour(self) -> str:
        return str(self.face.state.widgets[WIDGET]["colour"])

    def approve(self, action: dict[str, Any], approver: dict[str, str]) -> dict[str, Any]:
        url = f"/v1/approvals/{action['approval']['id']}/decision"
        decided = self.http.post(url, headers=approver, json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        return dict(self.http.get(f"/v1/actions/{action['id']}", headers=approver).json())


@pytest.fixture
def registered() -> Iterator[None]:
    """Recipe "An ERP", step 3: the connector registered under its kind."""
    register("toy")(ToyConnector)
    try:
        yield
    finally:
        unregister("toy")


def _settings(tmp_path: Path, face_url: str, **more: Any) -> Settings:
    catalog = tmp_path / "actions.yaml"
    catalog.write_text(CATALOG, encoding="utf-8")
    chosen: dict[str, Any] = {
        "workdir": tmp_path / "work",
        "token_secret": SecretStr("recipes-secret-" + "r" * 32),
        "actions_file": catalog,
        "erp_kind": "toy",
        "erp_url": face_url,
        "erp_username": "canon",
        "erp_password": SecretStr("toy-password"),
        "workflow_sweep_seconds": 0,
        "approval_sweep_seconds": 0,
    }
    return Settings(**{**chosen, **more})


@pytest.fixture
def toy(tmp_path: Path, registered: None) -> Iterator[Toy]:
    face = toy_face()
    with serving(face) as face_url:
        app = create_app(_settings(tmp_path, face_url))  # CANON_ERP_KIND=toy, the catalog
        with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            yield Toy(face, app, http)


def test_a_toy_erp_and_a_toy_action_run_and_revert_through_the_gate(toy: Toy) -> None:
    """Recipe "An action", step 4: proposed, approved, run, reverted through the gate."""
    assert isinstance(toy.gateway.connector, ToyConnector)
    agent, approver = toy.key("agent", "agent"), toy.key("approver", "ana")
    served = {entry["action"]: entry for entry in toy.http.get("/v1/catalog", headers=agent).json()}
    assert served["widget.paint"]["offered"] is True

    token = issue_for(toy.gateway, resolution(entity_type="widget", canonical_id=WIDGET), agent)
    body = {
        "action": "widget.paint",
        "target": {"resolution_token": token},
        "params": {"colour": "red"},
        "context": {"reason": "the catalogue photo shows it red"},
        "idempotency_key": "paint-w1",
    }
    proposed = toy.http.post("/v1/actions", headers=agent, json=body)
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["status"] == "pending_approval"
    assert "Approve painting Left sprocket (W-1) red" in proposed.json()["summary"]
    assert toy.colour() == "grey"  # nothing runs before the approval

    done = toy.approve(proposed.json(), approver)
    assert done["status"] == "succeeded", done
    assert toy.colour() == "red"

    asked = toy.http.post(f"/v1/actions/{done['id']}/revert", headers=agent,
                          json={"reason": "wrong widget"})  # fmt: skip
    assert asked.status_code == 201, asked.text
    reverted = toy.approve(asked.json(), approver)
    assert reverted["status"] == "succeeded", reverted
    assert [(s["operation"], s["status"]) for s in reverted["steps"]] == [
        ("widget.unpaint", "succeeded")
    ]
    assert toy.colour() == "grey"


def test_an_action_the_toy_erp_cannot_run_is_not_offered(tmp_path: Path, registered: None) -> None:
    """Recipe "An action", step 2: the connector runs what its marked methods run, and an
    operation none of them runs means not offered."""
    assert ToyConnector.operations == {"widget.paint", "widget.unpaint"}
    catalog = CATALOG.replace("widget.unpaint", "widget.scrape")
    (tmp_path / "other.yaml").write_text(catalog, encoding="utf-8")
    settings = _settings(tmp_path, "http://127.0.0.1:9", actions_file=tmp_path / "other.yaml")
    assert connector_class(settings) is ToyConnector
    spec = load_catalog(settings.actions_file).get("widget.paint")
    assert not_offered(ToyConnector, spec) == (
        "widget.paint is not offered on Toy: the Toy connector cannot run widget.scrape"
    )


def test_an_unknown_erp_kind_is_refused_naming_the_known_ones(
    tmp_path: Path, registered: None
) -> None:
    assert {"ledger", "protheus", "sap", "oracle", "toy"} <= set(kinds())
    known = ", ".join(kinds())
    with pytest.raises(
        ValidationError, match=f"unknown ERP kind 'toys': the known kinds are {known}"
    ):
        _settings(tmp_path, "http://127.0.0.1:9", erp_kind="toys")
    # settings that skipped validation still never fall back to some other ERP
    unchecked = _settings(tmp_path, "http://127.0.0.1:9").model_copy(update={"erp_kind": "toys"})
    with pytest.raises(UnknownErpKind, match=known):
        build_connector(unchecked)
    with pytest.raises(UnknownErpKind):
        connector_class(unchecked)


def test_a_kind_leaves_the_registry_when_unregistered(tmp_path: Path) -> None:
    register("toy")(ToyConnector)
    unregister("toy")
    assert "toy" not in kinds()
    with pytest.raises(ValidationError, match="unknown ERP kind 'toy'"):
        _settings(tmp_path, "http://127.0.0.1:9")
