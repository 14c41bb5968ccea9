"""`canon keys | audit | rollout`: stdout for scripts; bad input is one stderr line and exit 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from rich.console import Console
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from api.cli import gateway as cli_gateway
from gateway import Store, authenticate

runner = CliRunner()


@pytest.fixture
def canon(monkeypatch: pytest.MonkeyPatch, store_url: str, tmp_path: Path) -> typer.Typer:
    """The gate's commands, on the store at CANON_DATABASE_URL (each backend)."""
    monkeypatch.setenv("CANON_DATABASE_URL", store_url)
    monkeypatch.setenv("CANON_WORKDIR", str(tmp_path / "work"))
    app = typer.Typer()
    cli_gateway.register(app)
    return app


def test_keys_create_prints_only_the_key_and_it_authenticates(
    canon: typer.Typer, store_url: str
) -> None:
    result = runner.invoke(
        canon, ["keys", "create", "--name", "bot", "--role", "agent",
                "--scopes", "resolve,actions:purchase_order.*"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("canon_") and "\n" not in key
    assert "will not be shown again" in result.stderr
    store = Store.open(store_url)
    with store.transaction() as session:
        principal = authenticate(session, key)
    store.close()
    assert principal.scopes == ("resolve", "actions:purchase_order.*")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--name", "x", "--role", "root"], "unknown role 'root'", id="bad-role"),
        pytest.param(["--name", "x", "--role", "agent", "--scopes", "actions:invoice.*"],
                     "names no action", id="scope-names-no-action"),
        pytest.param(["--name", "x", "--role", "agent"], "needs at least one scope",
                     id="agent-without-scope"),
    ],
)  # fmt: skip
def test_bad_key_requests_are_one_line_exit_2(
    canon: typer.Typer, args: list[str], message: str
) -> None:
    result = runner.invoke(canon, ["keys", "create", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_revoke(canon: typer.Typer) -> None:
    runner.invoke(canon, ["keys", "create", "--name", "ops", "--role", "admin"])
    assert runner.invoke(canon, ["keys", "revoke", "ops"]).exit_code == 0
    again = runner.invoke(canon, ["keys", "revoke", "ops"])
    assert again.exit_code == 2 and "no active key" in again.stderr


def test_audit_verify_reports_and_names_the_first_bad_entry(
    canon: typer.Typer, store_url: str
) -> None:
    for name in ("a", "b", "c"):
        runner.invoke(canon, ["keys", "create", "--name", name, "--role", "approver"])
    ok = runner.invoke(canon, ["audit", "verify"])
    assert (ok.exit_code, ok.stdout.strip()) == (0, "audit log intact: 3 entries")
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
    engine.dispose()
    broken = runner.invoke(canon, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "audit log broken at entry 2: entry 2 is missing" in broken.stderr


def test_rollout_set_and_readiness(canon: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    refused = runner.invoke(canon, ["rollout", "set", "purchase_order.close", "autonomous"])
    assert refused.exit_code == 1
    assert "stays supervised: only 0 decided proposals; promotion needs 50" in refused.stderr
    demoted = runner.invoke(canon, ["rollout", "set", "purchase_order.close", "read_only"])
    assert demoted.exit_code == 0, demoted.stderr
    assert "purchase_order.close: supervised -> read_only" in demoted.stderr
    # The console's width is fixed when it is made (COLUMNS then; pytest-xdist sets it to 80):
    # the terminal of each case is a console of that width.
    monkeypatch.setattr(cli_gateway, "out", Console(width=250))
    table = runner.invoke(canon, ["rollout", "readiness"])
    assert table.exit_code == 0
    row = next(line for line in table.stdout.splitlines() if "purchase_order.close" in line)
    assert "read_only" in row and "no" in row
    # In 80 columns: one block per action, every value whole, no line wider than the terminal.
    monkeypatch.setattr(cli_gateway, "out", Console(width=80))
    narrow = runner.invoke(canon, ["rollout", "readiness"]).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 80
    block = narrow.split("\npurchase_order.close\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in block] == [
        "phase", "proposals", "approved", "wrong", "ready", "why", "drill",
    ]  # fmt: skip
    assert block[0].split() == ["phase", "read_only"]
    assert "only 0 decided proposals; promotion needs 50" in block[5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["purchase_order.close", "yolo"], "unknown phase 'yolo'", id="bad-phase"),
        pytest.param(["purchase_order.burn", "read_only"], "unknown action", id="bad-action"),
    ],
)
def test_rollout_bad_input(canon: typer.Typer, args: list[str], message: str) -> None:
    result = runner.invoke(canon, ["rollout", "set", *args])
    assert result.exit_code == 2 and message in result.stderr


def test_bad_settings_are_one_line(canon: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANON_MODE", "production")
    result = runner.invoke(canon, ["audit", "verify"])
    assert result.exit_code == 2
    assert "CANON_TOKEN_SECRET" in result.stderr and "Traceback" not in result.stderr
    # A rule over the settings as a whole names no field: no empty one, no "Value error, ".
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: settings: ") and ": :" not in line, line
    assert "Value error" not in line, line


def test_serve_refuses_to_sync_in_every_worker(
    canon: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--sync` pulls the ERP's changes in one process: with several workers it is refused before
    anything starts, in one line that says what to do instead."""
    monkeypatch.setenv("CANON_ERP_USERNAME", "canon")
    monkeypatch.setenv("CANON_ERP_PASSWORD", "not-used")
    erp = ["--erp-kind", "protheus", "--erp-url", "http://127.0.0.1:9"]  # never called
    result = runner.invoke(canon, ["serve", "--workers", "2", "--sync", *erp])
    assert result.exit_code == 2, result.output
    assert "--workers 1" in result.stderr and "canon sync" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_script_prints_the_key_alone(tmp_path: Path) -> None:
    """Through the installed `canon` script, with the default SQLite store in --workdir."""
    canon_bin = Path(sys.executable).parent / "canon"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANON_")}
    result = subprocess.run(
        [str(canon_bin), "keys", "create", "--name", "ci", "--role", "agent", "--scopes",
         "resolve", "--workdir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("canon_")
    assert (tmp_path / "canon.sqlite").exists()


def test_canon_serve_answers_on_the_given_port(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANON_")}
    canon_bin = Path(sys.executable).parent / "canon"
    server = subprocess.Popen(
        [str(canon_bin), "serve", "--workdir", str(tmp_path), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "canon serve did not start"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 503  # no model yet
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_labels_export_writes_what_people_decided_as_calibration_labels(
    canon: typer.Typer, store_url: str, tmp_path: Path
) -> None:
    from calibration.labels import read_labels
    from gateway.labels import add_label
    from gateway.store import utcnow

    query = {"id": None, "entity_type": "supplier", "record": {"name": "ABC Manufacturing"}}
    store = Store.open(store_url)
    with store.transaction() as session:
        for canonical_id, verdict in (("SA2:1", "correct"), ("SA2:2", "wrong")):
            add_label(session, entity_type="supplier", query=query, canonical_id=canonical_id,
                      verdict=verdict, source="resolution", now=utcnow(),  # type: ignore[arg-type]
                      decided_by="user:u1")  # fmt: skip
        # a decision on a token whose query was not kept: left out, not a bad row
        add_label(session, entity_type="supplier", query={"identity": {}}, canonical_id="SA2:3",
                  verdict="wrong", source="approval", now=utcnow())  # fmt: skip
    store.close()
    out = tmp_path / "labels.csv"
    result = runner.invoke(canon, ["labels", "export", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "wrote 2 labels" in result.stderr and "2 resolution" in result.stderr
    labels = read_labels(out)
    assert [(x.canonical_id, x.label, x.source) for x in labels] == [
        ("SA2:1", "correct", "resolution"), ("SA2:2", "wrong", "resolution")]  # fmt: skip
    assert labels[0].query.record == {"name": "ABC Manufacturing"}
