"""Rollback drills against the sandbox ERP over HTTP, in each wire format: every action type of
the shipped catalog that a connector runs is drilled (the action, its revert, the record checked
after each step and back to its state before); faults injected into the revert end in defined
states; a step that does not leave what the catalog says fails the drill; action types no
connector runs fail with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import Catalog, load_catalog
from gateway.drill import run_drill
from gateway.workflow import RunnerPolicy
from tests.gateway.erp.sandbox import Sandbox, running_sandbox

CATALOG_FILE = Path(__file__).resolve().parents[2] / "config" / "actions.yaml"
FORMATS = ("protheus", "sap", "oracle")
#: The shipped action types whose operations the HTTP connectors run.
ON_ERPS = (
    "purchase_order.approve",
    "purchase_order.close",
    "purchase_order.update_delivery_date",
    "supplier.create",
    "supplier.block",
    "supplier.update_bank_account",
)
FAST = RunnerPolicy(backoff_initial_seconds=0.05, retry_after_seconds=0.1, call_attempts=3)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG_FILE)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the module: each drill must leave it as it found it."""
    with running_sandbox(tmp_path_factory.mktemp("drill") / "sandbox") as running:
        yield running
        running.admin.clear_faults()


def test_every_shipped_action_type_is_either_drilled_here_or_named_as_unsupported(
    catalog: Catalog,
) -> None:
    assert set(catalog.actions) == {*ON_ERPS, "transaction.reclassify", "ticket.close"}


#: Oracle publishes no action that withdraws an approval: its approvals are not revertible.
NOT_REVERTIBLE = {("purchase_order.approve", "oracle")}


@pytest.mark.parametrize(
    ("action", "wire"),
    [(a, w) for w in FORMATS for a in ON_ERPS if (a, w) not in NOT_REVERTIBLE],
)
def test_drill_passes(sandbox: Sandbox, catalog: Catalog, wire: str, action: str) -> None:
    journal = len(sandbox.admin.journal())
    result = run_drill(catalog, action, sandbox.connector(wire), erp=f"sandbox ({wire})",
                       policy=FAST)  # fmt: skip
    assert result.passed, result.as_dict()
    assert (result.action_status, result.revert_status) == ("succeeded", "succeeded")
    steps = len(catalog.get(action).steps)
    # a check after each step, after each undo, and of the record against its state before
    assert len(result.checks) == 2 * steps + 1 and all(c.ok for c in result.checks)
    assert result.checks[-1].stage == "the record is back to its state before"
    assert result.record is not None
    written = sandbox.admin.journal()[journal:]
    keys = [e["idempotency_key"] for e in written]
    assert len(keys) == len(set(keys))  # no write twice
    assert any(k.startswith(f"{result.revert_id}:") for k in keys)


@pytest.mark.parametrize("wire", FORMATS)
def test_a_drill_fails_when_the_record_is_not_left_as_the_step_says(
    sandbox: Sandbox, catalog: Catalog, wire: str
) -> None:
    spec = catalog.get("supplier.block")
    step = spec.steps[0].model_copy(update={"leaves": {"blocked": True, "city": "Atlantis"}})
    lying = Catalog(
        actions={**catalog.actions, spec.name: spec.model_copy(update={"steps": (step,)})},
        params_models=catalog.params_models,
    )
    result = run_drill(lying, "supplier.block", sandbox.connector(wire), erp="sandbox",
                       policy=FAST)  # fmt: skip
    assert not result.passed
    assert result.problem is not None and result.problem.startswith("after step 0 (block): city")
    assert result.revert_status is None  # a drill that found a wrong step reverts nothing itself


@pytest.mark.parametrize("wire", FORMATS)
def test_a_revert_timing_out_after_commit_is_found_by_key_and_the_drill_passes(
    sandbox: Sandbox, catalog: Catalog, wire: str
) -> None:
    sandbox.admin.fault("timeout_after_commit", key=f"drill-timeout-{wire}-revert:0", seconds=2.0)
    result = run_drill(catalog, "supplier.block", sandbox.connector(wire, timeout=0.5),
                       erp="sandbox", run_id=f"timeout-{wire}", policy=FAST)  # fmt: skip
    assert result.passed, result.as_dict()
    undo = [
        e
        for e in sandbox.admin.journal()
        if e["idempotency_key"] == f"drill-timeout-{wire}-revert:0"
    ]
    assert len(undo) == 1  # committed once, found by its key, never sent again


@pytest.mark.parametrize("wire", FORMATS)
def test_a_revert_the_erp_refuses_ends_failed_and_the_drill_says_so(
    sandbox: Sandbox, catalog: Catalog, wire: str
) -> None:
    sandbox.admin.fault("error", key=f"drill-refused-{wire}-revert:0", status=422, times=None)
    result = run_drill(catalog, "supplier.block", sandbox.connector(wire), erp="sandbox",
                       run_id=f"refused-{wire}", policy=FAST)  # fmt: skip
    assert not result.passed
    assert (result.action_status, result.revert_status) == ("succeeded", "failed")
    assert result.problem is not None and result.problem.startswith("the revert ended failed")
    assert result.record is not None
    record = sandbox.connector(wire).read_record("supplier", result.record)
    assert record is not None and record.fields["blocked"] is True  # left as the action left it


def test_a_refusal_half_way_through_a_multi_step_revert_needs_attention(
    sandbox: Sandbox, catalog: Catalog
) -> None:
    # supplier.create's revert: cancel the routing, detach the document (refused), delete it
    sandbox.admin.fault("error", key="drill-half-revert:1", status=422, times=None)
    result = run_drill(catalog, "supplier.create", sandbox.connector("protheus"),
                       erp="sandbox", run_id="half", policy=FAST)  # fmt: skip
    assert not result.passed and result.revert_status == "needs_attention"
    assert result.problem is not None and "undo_route_for_approval" in result.problem
    assert [c.stage for c in result.checks][-1] == "after undoing step 2 (route_for_approval)"


def test_an_oracle_approval_is_not_revertible_and_its_drill_says_why(
    tmp_path: Path, catalog: Catalog
) -> None:
    with running_sandbox(tmp_path / "oracle") as oracle:
        result = run_drill(
            catalog,
            "purchase_order.approve",
            oracle.connector("oracle"),
            erp="sandbox (oracle)",
            run_id="oracle-approve",
            policy=FAST,
        )
        assert not result.passed
        assert (result.action_status, result.revert_status) == ("succeeded", "failed")
        assert result.problem is not None
        assert "no published action withdraws the approval" in result.problem
        assert "purchase_order.revoke_approval" not in oracle.admin.calls()  # nothing sent


@pytest.mark.parametrize("action", ["transaction.reclassify", "ticket.close"])
def test_action_types_no_erp_connector_runs_fail_their_drill_with_the_reason(
    sandbox: Sandbox, catalog: Catalog, action: str
) -> None:
    result = run_drill(catalog, action, sandbox.connector("sap"), erp="sandbox", policy=FAST)
    assert not result.passed and result.action_status is None
    assert result.problem is not None
    assert f"this ERP's connector cannot run {action}" in result.problem
