"""Rollback drills against the sandbox ERP over HTTP, in each wire format: every action type of
the shipped catalog is drilled in every format where it exists (the action, its revert, the
record checked after each step and back to its state before); faults injected into the revert
end in defined states; a step that does not leave what the catalog says fails the drill; an
action type that does not exist on an ERP is not drilled there, and says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway import Catalog, load_catalog
from gateway.drill import _candidate_ids, run_drill
from gateway.erp.registry import kind as erp_kind
from gateway.errors import GatewayError
from gateway.offered import not_offered
from gateway.workflow import RunnerPolicy
from tests.gateway.erp.sandbox import Sandbox, running_sandbox

CATALOG_FILE = Path(__file__).resolve().parents[2] / "config" / "actions.yaml"
FORMATS = ("protheus", "sap", "oracle")
#: The connector class each format is registered as (`gateway.erp.registry`).
CONNECTORS: dict[str, Any] = {wire: erp_kind(wire).connector for wire in FORMATS}
#: Where each shipped action type exists (docs/ERP.md): the supplier and purchase-order actions
#: everywhere, but an Oracle approval (no published action withdraws one); reclassifying an
#: accounting entry on Protheus (CT2) only; closing a ticket on Oracle (serviceRequests) only.
COMMON = (
    "purchase_order.close",
    "purchase_order.update_delivery_date",
    "supplier.create",
    "supplier.block",
    "supplier.update_bank_account",
)
OFFERED = {
    "protheus": (*COMMON, "purchase_order.approve", "transaction.reclassify"),
    "sap": (*COMMON, "purchase_order.approve"),
    "oracle": (*COMMON, "ticket.close"),
}
#: The operation each ERP lacks for an action type it does not offer.
MISSING = {
    ("purchase_order.approve", "oracle"): "purchase_order.revoke_approval",
    ("transaction.reclassify", "sap"): "transaction.reclassify",
    ("transaction.reclassify", "oracle"): "transaction.reclassify",
    ("ticket.close", "protheus"): "ticket.close",
    ("ticket.close", "sap"): "ticket.close",
}
FAST = RunnerPolicy(backoff_initial_seconds=0.05, retry_after_seconds=0.1, call_attempts=3)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG_FILE)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the module, called in process: each drill must leave it as it found it."""
    folder = tmp_path_factory.mktemp("drill") / "sandbox"
    with running_sandbox(folder, network=False) as running:
        yield running
        running.admin.clear_faults()


@pytest.fixture(scope="module")
def networked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox on a real socket, for the drills whose revert the client times out on."""
    with running_sandbox(tmp_path_factory.mktemp("drill") / "networked") as running:
        yield running
        running.admin.clear_faults()


def test_every_shipped_action_type_exists_on_some_erp_and_the_connectors_say_where(
    catalog: Catalog,
) -> None:
    assert {a for offered in OFFERED.values() for a in offered} == set(catalog.actions)
    for wire, cls in CONNECTORS.items():
        for name, spec in catalog.actions.items():
            reason = not_offered(cls, spec)
            if name in OFFERED[wire]:
                assert reason is None, reason
            else:
                erp = cls.name
                assert reason == (
                    f"{name} is not offered on {erp}: the {erp} connector cannot run "
                    f"{MISSING[(name, wire)]}"
                )


@pytest.mark.parametrize(("action", "wire"), [(a, w) for w in FORMATS for a in OFFERED[w]])
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
    networked: Sandbox, catalog: Catalog, wire: str
) -> None:
    networked.admin.fault("timeout_after_commit", key=f"drill-timeout-{wire}-revert:0", seconds=2.0)
    result = run_drill(catalog, "supplier.block", networked.connector(wire, timeout=0.5),
                       erp="sandbox", run_id=f"timeout-{wire}", policy=FAST)  # fmt: skip
    assert result.passed, result.as_dict()
    undo = [
        e
        for e in networked.admin.journal()
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


@pytest.mark.parametrize(("action", "wire"), sorted(MISSING))
def test_an_action_type_an_erp_does_not_offer_is_not_drilled_there(
    sandbox: Sandbox, catalog: Catalog, action: str, wire: str
) -> None:
    calls = sandbox.admin.calls()
    result = run_drill(catalog, action, sandbox.connector(wire), erp=f"sandbox ({wire})",
                       policy=FAST)  # fmt: skip
    assert not result.passed and not result.failed and result.problem is None
    assert result.not_offered is not None
    assert f"{action} is not offered on " in result.not_offered
    assert result.not_offered.endswith(f"cannot run {MISSING[(action, wire)]}")
    assert result.action_status is None and result.record is None
    assert sandbox.admin.calls() == calls  # nothing was read or written


def test_an_oracle_approval_revert_the_connector_is_asked_for_is_still_refused(
    sandbox: Sandbox,
) -> None:
    # A revert of an approval made before this declaration: refused before anything is sent.
    from gateway.erp.base import ErpOperation
    from gateway.errors import ErpUnsupported

    operation = ErpOperation(
        operation="purchase_order.revoke_approval", entity_type="purchase_order",
        canonical_id="PurchaseOrder:300000200000001", idempotency_key="old-approval:0",
    )  # fmt: skip
    with pytest.raises(ErpUnsupported, match="no published action withdraws the approval"):
        sandbox.connector("oracle").run(operation)
    assert "old-approval:0" not in sandbox.admin.keys()


# -- one of the new action types, with faults in its revert ---------------------------------------
def test_a_reclassification_revert_timing_out_after_commit_is_found_by_key(
    networked: Sandbox, catalog: Catalog
) -> None:
    key = "drill-reclass-timeout-revert:0"
    networked.admin.fault("timeout_after_commit", key=key, seconds=2.0)
    result = run_drill(catalog, "transaction.reclassify", networked.connector(timeout=0.5),
                       erp="sandbox", run_id="reclass-timeout", policy=FAST)  # fmt: skip
    assert result.passed, result.as_dict()
    assert result.record is not None and result.record.startswith("CT2:")
    assert [e["idempotency_key"] for e in networked.admin.journal()].count(key) == 1
    entry = networked.connector().read_record("transaction", result.record)
    assert entry is not None and entry.fields["account"] != "6100.200"  # back as it was


def test_a_reclassification_revert_the_erp_refuses_ends_failed_and_leaves_the_new_account(
    sandbox: Sandbox, catalog: Catalog
) -> None:
    row = sandbox.admin.live("CT2010")[-1]
    keys = ("CT2_FILIAL", "CT2_DATA", "CT2_LOTE", "CT2_SBLOTE", "CT2_DOC", "CT2_LINHA")
    entry_id = ":".join(["CT2", *(row[k] for k in keys)])
    sandbox.admin.fault("error", key="drill-reclass-refused-revert:0", status=422, times=None)
    result = run_drill(catalog, "transaction.reclassify", sandbox.connector(), erp="sandbox",
                       record_id=entry_id, run_id="reclass-refused", policy=FAST)  # fmt: skip
    assert result.failed and not result.passed
    assert (result.action_status, result.revert_status) == ("succeeded", "failed")
    assert result.problem is not None and result.problem.startswith("the revert ended failed")
    entry = sandbox.connector().read_record("transaction", entry_id)
    assert entry is not None and entry.fields["account"] == "6100.200"  # as the action left it
    sandbox.admin.clear_faults()  # and undone by hand: the module's sandbox is left as found
    sandbox.admin.change("CT2010", int(row["R_E_C_N_O_"]), CT2_DEBITO=row["CT2_DEBITO"])


def test_a_drill_finds_its_records_where_the_profile_says_and_names_the_types_it_knows(
    sandbox: Sandbox,
) -> None:
    """The records a drill picks from are read from the profile's source, ids in its form; a
    target entity type the ERP's profile does not declare is an error naming those it does."""
    oracle = sandbox.connector("oracle")
    tickets = list(_candidate_ids(oracle, "ticket"))
    assert tickets and all(t.startswith("ServiceRequest:") for t in tickets)
    assert oracle.read_record("ticket", tickets[0]) is not None
    entries = list(_candidate_ids(sandbox.connector("protheus"), "transaction"))
    assert entries and all(e.startswith("CT2:") and e.count(":") == 6 for e in entries)
    with pytest.raises(GatewayError) as info:
        next(_candidate_ids(sandbox.connector("sap"), "transaction"))
    assert str(info.value) == (
        "the sap profile declares no entity type 'transaction' "
        "(known: supplier, customer, purchase_order)"
    )
