"""`canon rollout drill` against a sandbox ERP started for the drill: the result is stored with
the rollout and unlocks promotion; bad input is one stderr line and exit 2; a failed drill is
exit 1 and is stored too. `canon actions revert` needs a key (its e2e run: tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli import gateway as cli_gateway
from api.cli import rollback as cli_rollback
from gateway import Store, load_catalog
from gateway.rollout import drill_verdict, latest_drill

runner = CliRunner()
CATALOG = Path(__file__).resolve().parents[2] / "config" / "actions.yaml"


@pytest.fixture
def canon(monkeypatch: pytest.MonkeyPatch, store_url: str, tmp_path: Path) -> typer.Typer:
    monkeypatch.setenv("CANON_DATABASE_URL", store_url)
    monkeypatch.setenv("CANON_WORKDIR", str(tmp_path / "work"))
    monkeypatch.delenv("CANON_API_KEY", raising=False)
    app = typer.Typer()
    cli_gateway.register(app)
    cli_rollback.register(app)
    return app


def test_a_passing_drill_is_stored_and_lets_the_action_leave_shadow_mode(
    canon: typer.Typer, store_url: str
) -> None:
    demoted = runner.invoke(canon, ["rollout", "set", "supplier.block", "read_only"])
    assert demoted.exit_code == 0, demoted.stderr
    refused = runner.invoke(canon, ["rollout", "set", "supplier.block", "supervised"])
    assert refused.exit_code == 1
    assert "stays read_only: promotion needs a passing rollback drill" in refused.stderr

    drilled = runner.invoke(canon, ["rollout", "drill", "supplier.block", "--format", "oracle"])
    assert drilled.exit_code == 0, drilled.stderr
    lines = drilled.stdout.splitlines()
    assert lines[0].startswith("drill supplier.block against sandbox ERP (oracle) on Supplier:")
    assert [line.split(maxsplit=1)[0] for line in lines[1:4]] == ["ok", "ok", "ok"]
    assert "supplier.block: drill passed (action succeeded, revert succeeded)" in lines[4]
    assert "1 drill(s) passed" in drilled.stderr

    spec = load_catalog(CATALOG).get("supplier.block")
    store = Store.open(store_url)
    with store.transaction() as session:
        drill = latest_drill(session, spec)
        assert drill is not None and drill.passed and drill.steps_hash == spec.steps_hash
        assert drill.ran_by == "cli:operator" and drill.report["checks"][0]["ok"] is True
        assert drill_verdict(session, spec)[0]
    store.close()
    promoted = runner.invoke(canon, ["rollout", "set", "supplier.block", "supervised"])
    assert promoted.exit_code == 0, promoted.stderr
    assert "supplier.block: read_only -> supervised" in promoted.stderr


def test_a_failed_drill_is_exit_1_and_stored(canon: typer.Typer, store_url: str) -> None:
    result = runner.invoke(canon, ["rollout", "drill", "supplier.block", "--record",
                                   "SA2:01:999999:01"])  # fmt: skip
    assert result.exit_code == 1
    assert "supplier.block: drill FAILED: the ERP holds no live supplier SA2:01:999999:01" in (
        result.stdout.replace("\n", " ")
    )
    assert "1 of 1 drill(s) failed: supplier.block" in result.stderr
    store = Store.open(store_url)
    with store.transaction() as session:
        drill = latest_drill(session, load_catalog(CATALOG).get("supplier.block"))
        assert drill is not None and not drill.passed
    store.close()


def test_an_action_the_erp_does_not_offer_is_not_drilled_nor_stored_nor_promoted(
    canon: typer.Typer, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(canon, ["rollout", "drill", "ticket.close", "--format", "sap"])
    assert result.exit_code == 1  # nothing was drilled
    assert result.stdout.splitlines() == [
        "drill ticket.close against sandbox ERP (sap)",
        "  ticket.close is not offered on SAP: the SAP connector cannot run ticket.close",
    ]
    assert "not offered on this ERP (not drilled): ticket.close" in result.stderr
    assert "nothing drilled" in result.stderr
    store = Store.open(store_url)
    with store.transaction() as session:
        assert latest_drill(session, load_catalog(CATALOG).get("ticket.close")) is None
    store.close()

    # the deployment's ERP is SAP: promotion is refused for that reason, not for the drill
    monkeypatch.setenv("CANON_ERP_KIND", "sap")
    monkeypatch.setenv("CANON_ERP_URL", "http://127.0.0.1:9")  # never called
    monkeypatch.setenv("CANON_ERP_USERNAME", "u")
    monkeypatch.setenv("CANON_ERP_PASSWORD", "p")
    assert runner.invoke(canon, ["rollout", "set", "ticket.close", "read_only"]).exit_code == 0
    refused = runner.invoke(canon, ["rollout", "set", "ticket.close", "supervised"])
    assert refused.exit_code == 1
    assert (
        "ticket.close stays read_only: promotion refused: ticket.close is not offered on SAP: "
        "the SAP connector cannot run ticket.close"
    ) in refused.stderr.replace("\n", " ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "name one ACTION, or --all", id="nothing"),
        pytest.param(["supplier.block", "--all"], "name one ACTION, or --all", id="both"),
        pytest.param(["invoice.pay"], "unknown action 'invoice.pay'", id="unknown-action"),
        pytest.param(["supplier.block", "--format", "cobol"], "--format 'cobol'", id="format"),
        pytest.param(["--all", "--record", "SA2:01:1:01"], "--record goes with one ACTION",
                     id="record-with-all"),
        pytest.param(["supplier.block", "--data", "/nonexistent"], "not a folder", id="data"),
        pytest.param(["supplier.create", "--record", "SA2::000001:01"],
                     "supplier.create creates its record", id="record-of-a-creation"),
    ],
)  # fmt: skip
def test_bad_drill_input_is_one_line_and_exit_2(
    canon: typer.Typer, args: list[str], message: str
) -> None:
    result = runner.invoke(canon, ["rollout", "drill", *args])
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_drill_against_an_unreachable_erp_fails_with_the_reason(canon: typer.Typer) -> None:
    env = {"CANON_ERP_USERNAME": "u", "CANON_ERP_PASSWORD": "p", "CANON_ERP_TIMEOUT_SECONDS": "1"}
    args = ["rollout", "drill", "supplier.block", "--erp-url", "http://127.0.0.1:9"]
    result = runner.invoke(canon, args, env=env)
    assert result.exit_code == 1
    assert "the ERP failed the drill: ErpUnavailable" in result.stdout.replace("\n", " ")


def test_revert_without_a_key_is_one_line_and_exit_2(canon: typer.Typer) -> None:
    result = runner.invoke(canon, ["actions", "revert", "some-id", "--reason", "wrong"])
    assert result.exit_code == 2
    assert "CANON_API_KEY is not set" in result.stderr
