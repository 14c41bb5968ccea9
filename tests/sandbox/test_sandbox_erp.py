"""The sandbox ERP app over HTTP: loading and soft deletes, writes once per key, and every fault
it injects (by header or by rule), including held requests; `canon sandbox-erp` itself. Called
in process, but where the behaviour is the network's (`@pytest.mark.network`): many clients at
once, a dropped connection, a client timeout, requests held while the client waits."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from api.cli import gateway as cli_gateway
from sandbox.erp import create_sandbox_app
from tests.gateway.erp.sandbox import (
    FIXTURE_DATA,
    PASSWORD,
    SAMPLE_DATA,
    USER,
    Sandbox,
    running_sandbox,
    wants_network,
)

SUPPLIERS = "/rest/api/canon/v1/suppliers"
NEW = {"A2_NOME": "Zebulon Quantum Robotics Ltda", "A2_CGC": "11222333000181", "A2_TIPO": "J"}


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path / "sandbox", network=wants_network(request)) as running:
        yield running


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with sandbox.client() as client:
        yield client


def _create(
    http: httpx.Client, key: str | None, fault: str | None = None, **kw: object
) -> httpx.Response:
    headers = {k: v for k, v in (("Idempotency-Key", key), ("X-Sandbox-Fault", fault)) if v}
    return http.post(SUPPLIERS, json={**NEW, **kw}, headers=headers)


def _written(sandbox: Sandbox) -> int:
    return len(sandbox.admin.rows("SA2010", A2_CGC=NEW["A2_CGC"]))


def test_loads_the_sample_and_keeps_soft_deleted_rows(tmp_path: Path) -> None:
    app = create_sandbox_app(tmp_path / "erp.sqlite", FIXTURE_DATA)
    assert app.state.sandbox.db.loaded == {"SA1010": 240, "SA2010": 400, "SC7010": 665}
    rows = app.state.sandbox.db.rows("SA2010", live_only=False, limit=1000)
    deleted = [r for r in rows if r["D_E_L_E_T_"] == "*"]
    assert len(deleted) == 7 and sorted(r["R_E_C_N_O_"] for r in rows) == list(range(1, 401))
    again = create_sandbox_app(tmp_path / "erp.sqlite", FIXTURE_DATA)
    assert again.state.sandbox.db.loaded == {}  # an existing database is not loaded twice


def test_a_key_writes_once_and_replays_its_answer(http: httpx.Client, sandbox: Sandbox) -> None:
    first = _create(http, "k1")
    again = _create(http, "k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    other = _create(http, "k1", A2_NOME="Another Name")
    assert other.status_code == 422 and "already used" in other.json()["message"]
    assert _written(sandbox) == 1
    (entry,) = sandbox.admin.journal()
    assert (entry["idempotency_key"], entry["operation"]) == ("k1", "supplier.create_record")


@pytest.mark.network
def test_a_thousand_concurrent_writes_of_one_key_write_once(sandbox: Sandbox) -> None:
    # One client per thread, as concurrent callers would be: what is under test is the ERP's
    # answer to 1,000 writes of one key, not one client's pool shared by 48 threads (seen to
    # fail a read with EBADF on a loaded machine).
    local = threading.local()
    clients: list[httpx.Client] = []

    def create(_: int) -> int:
        if not hasattr(local, "client"):
            local.client = sandbox.client()
            clients.append(local.client)
        return _create(local.client, "same").status_code

    try:
        with ThreadPoolExecutor(max_workers=48) as pool:
            answers = list(pool.map(create, range(1000)))
    finally:
        for client in clients:
            client.close()
    assert set(answers) <= {201, 409} and answers.count(201) >= 1
    assert _written(sandbox) == 1 and sandbox.admin.keys() == ["same"]


@pytest.mark.parametrize(
    ("fault", "status", "written"),
    [
        pytest.param("error=503", 503, 0, id="5xx-before-the-write"),
        pytest.param("error=500;after", 500, 1, id="5xx-after-the-write"),
        pytest.param("error=429", 429, 0, id="429"),
        pytest.param("latency=0.3", 201, 1, id="latency"),
    ],
)
def test_header_faults(
    http: httpx.Client, sandbox: Sandbox, fault: str, status: int, written: int
) -> None:
    started = time.monotonic()
    assert _create(http, "f", fault).status_code == status
    assert _written(sandbox) == written
    if fault.startswith("latency"):
        assert time.monotonic() - started >= 0.3


@pytest.mark.network
@pytest.mark.parametrize(("stage", "written"), [("before", 0), ("after", 1)])
def test_a_reset_drops_the_connection(sandbox: Sandbox, stage: str, written: int) -> None:
    with httpx.Client(base_url=sandbox.url, auth=(USER, PASSWORD)) as http:
        with pytest.raises(httpx.TransportError):
            _create(http, "r", f"reset;{stage}")
    assert _written(sandbox) == written


@pytest.mark.network
def test_a_timeout_after_commit_keeps_the_write(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, auth=(USER, PASSWORD), timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            _create(http, "t", "timeout_after_commit=1.5")
    assert _written(sandbox) == 1 and sandbox.admin.keys() == ["t"]


def test_a_rule_fails_the_nth_matching_call_only(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.admin.fault("error", operation="supplier.create_record", nth=3, status=502)
    statuses = [_create(http, f"n{i}", A2_CGC=f"0000000000000{i}").status_code for i in range(5)]
    assert statuses == [201, 201, 502, 201, 201]
    (rule,) = sandbox.admin.faults()
    assert (rule["seen"], rule["fired"]) == (5, 1)


def test_rules_match_by_key_prefix_face_and_path(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.admin.fault("error", key="act-1:*", status=503, times=None)
    sandbox.admin.fault("error", face="sap", status=500, times=None)
    sandbox.admin.fault("error", path=r"/customers$", method="GET", status=504, times=None)
    assert _create(http, "act-1:0").status_code == 503
    assert _create(http, "act-2:0").status_code == 201
    assert http.get("/rest/api/canon/v1/customers").status_code == 504
    assert http.get(f"{SUPPLIERS}?pageSize=1").status_code == 200


@pytest.mark.parametrize(
    ("stage", "decision", "outcome", "written"),
    [
        pytest.param("before", "proceed", 201, 1, id="held-before-then-proceeds"),
        pytest.param("before", "abort", 503, 0, id="held-before-then-aborted"),
        pytest.param("after", "abort", "dropped", 1, id="held-after-commit-then-dropped"),
    ],
)
@pytest.mark.network
def test_held_requests_wait_for_their_release(
    sandbox: Sandbox, stage: str, decision: str, outcome: object, written: int
) -> None:
    sandbox.admin.fault("block", key="held", stage=stage)
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        httpx.Client(base_url=sandbox.url, auth=(USER, PASSWORD), timeout=30) as http,
    ):
        pending = pool.submit(_create, http, "held")
        hold = sandbox.admin.wait_for_hold("held")
        assert (hold["stage"], hold["operation"], hold["face"]) == (
            stage,
            "supplier.create_record",
            "protheus",
        )
        assert _written(sandbox) == (1 if stage == "after" else 0)
        sandbox.admin.release(hold["id"], decision)
        if outcome == "dropped":
            with pytest.raises(httpx.TransportError):
                pending.result(10)
        else:
            assert pending.result(10).status_code == outcome
    assert _written(sandbox) == written and sandbox.admin.holds() == []


def test_a_request_the_erp_abandoned_writes_nothing_even_when_let_through(
    tmp_path: Path,
) -> None:
    """The ERP's request timeout: a held write is given up when it expires (503), and a late
    `proceed` cannot make it land any more; a write slower than the timeout is rolled back."""
    with (
        running_sandbox(tmp_path / "sandbox", stock=True, request_timeout=0.5) as sandbox,
        httpx.Client(base_url=sandbox.url, auth=(USER, PASSWORD), timeout=30) as http,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        sandbox.admin.fault("block", key="held", seconds=30)
        pending = pool.submit(_create, http, "held")
        hold = sandbox.admin.wait_for_hold("held")
        assert pending.result(10).status_code == 503  # given up long before the 30 s hold
        sandbox.admin.release(hold["id"], "proceed")  # too late: nothing is held any more
        assert sandbox.admin.holds() == [] and _written(sandbox) == 0
        slow = _create(http, "slow", "latency=0.8")
        assert slow.status_code == 504 and _written(sandbox) == 0
        assert sandbox.admin.keys() == []
        assert _create(http, "quick").status_code == 201 and _written(sandbox) == 1


@pytest.mark.parametrize(
    ("path", "field"),
    [
        pytest.param(SUPPLIERS, "message", id="protheus"),
        pytest.param(
            "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner", "error", id="sap"
        ),
        pytest.param("/fscmRestApi/resources/11.13.18.05/suppliers", "title", id="oracle"),
    ],
)
def test_every_face_needs_credentials(sandbox: Sandbox, path: str, field: str) -> None:
    with sandbox.client(auth=None) as http:
        refused = http.get(path)
        wrong = http.get(path, auth=(USER, "nope"))
    assert refused.status_code == 401 and field in refused.json()
    assert wrong.status_code == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_canon_sandbox_erp_serves_the_three_faces(tmp_path: Path) -> None:
    port = _free_port()
    canon = Path(sys.executable).parent / "canon"
    command = [
        str(canon),
        "sandbox-erp",
        "--data",
        str(SAMPLE_DATA),
        "--port",
        str(port),
        "--database",
        str(tmp_path / "erp.sqlite"),
    ]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CANON_WORKDIR": str(tmp_path)},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        health = httpx.get(f"{base}/_sandbox/health").json()
        with (SAMPLE_DATA / "SA2010.csv").open(encoding="utf-8", newline="") as fh:
            assert health["loaded"]["SA2010"] == sum(1 for _ in csv.DictReader(fh))
        oracle = httpx.get(
            f"{base}/fscmRestApi/resources/11.13.18.05/suppliers?limit=1", auth=(USER, PASSWORD)
        ).json()
        assert oracle["items"][0]["SupplierId"] == 300000000000001
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert f"sandbox ERP on http://127.0.0.1:{port}" in stderr


def test_canon_sandbox_erp_refuses_a_missing_data_folder(tmp_path: Path) -> None:
    app = typer.Typer()
    cli_gateway.register(app)
    done = CliRunner().invoke(app, ["sandbox-erp", "--data", str(tmp_path / "nope")])
    assert done.exit_code == 2 and "not a folder of CSV extracts" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_an_accounting_entry_line_changes_its_accounts_but_never_its_value(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    from gateway.erp.protheus import pk_encode

    row = sandbox.admin.live("CT2010")[0]
    keys = ("CT2_FILIAL", "CT2_DATA", "CT2_LOTE", "CT2_SBLOTE", "CT2_DOC", "CT2_LINHA")
    entry_id = ":".join(["CT2", *(row[k] for k in keys)])
    url = f"/rest/api/canon/v1/accountingentries/{pk_encode(entry_id)}"
    refused = http.put(url, json={"CT2_VALOR": "1.00"}, headers={"Idempotency-Key": "v"})
    assert refused.status_code == 400 and "CT2_VALOR" in refused.json()["message"]
    changed = http.put(url, json={"CT2_DEBITO": "6100.200"}, headers={"Idempotency-Key": "d"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["previous"] == {"CT2_DEBITO": row["CT2_DEBITO"]}
    assert http.get(url).json()["CT2_DEBITO"] == "6100.200"


def test_a_service_request_takes_only_the_status_codes_of_its_lookup(
    http: httpx.Client,
) -> None:
    url = "/crmRestApi/resources/11.13.18.05/serviceRequests/SR0000000001"
    before = http.get(url).json()
    bad = http.patch(url, json={"StatusCd": "DONE"}, headers={"Idempotency-Key": "bad"})
    assert bad.status_code == 400 and "ORA_SVC_SR_STATUS_CD" in bad.json()["title"]
    closed = http.patch(url, json={"StatusCd": "ORA_SVC_CLOSED"}, headers={"Idempotency-Key": "c"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["StatusCd"], closed.json()["StatusTypeCd"]) == (
        "ORA_SVC_CLOSED", "ORA_SVC_CLOSED",
    )  # fmt: skip
    assert before["StatusCd"] != "ORA_SVC_CLOSED"
    assert http.get(
        "/crmRestApi/resources/11.13.18.05/serviceRequests", params={"limit": 5}
    ).json()["hasMore"]
