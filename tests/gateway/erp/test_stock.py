"""A stock ERP (`canon sandbox-erp --stock`): none of Canon's custom services, and
`Idempotency-Key` ignored. Whether a write in doubt happened is then read from the ERP's own
records (`gateway.erp.recovery`); what those cannot tell is never sent again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.erp import ErpConnector
from gateway.erp.protheus import bank_fields
from gateway.erp.recovery import recover
from gateway.errors import ErpLookupMissing, ErpUnavailable, ErpUndecided
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import Sandbox, running_sandbox, wants_network
from tests.gateway.erp.test_connectors import IDS, KINDS, NETWORK, NEW, NEW_CGC, op, undo


@pytest.fixture
def stock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    network = wants_network(request)
    with running_sandbox(tmp_path / "stock", stock=True, network=network) as running:
        yield running


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_stock_erp_has_no_lookup_and_writes_a_key_twice(stock: Sandbox, kind: str) -> None:
    erp: ErpConnector = stock.connector(kind)
    first = erp.run(op("supplier.create_record", None, "same", **NEW))
    with pytest.raises(ErpLookupMissing):
        erp.lookup("same")
    second = erp.run(op("supplier.create_record", None, "same", **NEW))
    assert first.canonical_id != second.canonical_id  # why Canon must never re-send blindly
    assert len(stock.admin.rows("SA2010", A2_CGC=NEW_CGC)) == 2
    assert stock.admin.keys() == ["same#1", "same#2"]  # journaled for tests, never matched


@pytest.mark.parametrize(
    ("fault", "stage", "written"),
    [
        pytest.param("error", "before", False, id="503-before-the-write"),
        pytest.param("error", "after", True, id="503-after-the-write"),
        pytest.param("reset", "after", True, id="reset-after-the-write", marks=NETWORK),
        pytest.param(
            "timeout_after_commit", "after", True, id="timeout-after-commit", marks=NETWORK
        ),  # fmt: skip
    ],
)
def test_a_create_in_doubt_is_settled_by_the_tax_id(
    stock: Sandbox, kind: str, fault: str, stage: str, written: bool
) -> None:
    erp: ErpConnector = stock.connector(kind, timeout=0.5)
    stock.admin.fault(fault, operation="supplier.create_record", stage=stage, seconds=2)
    create = op("supplier.create_record", None, "doubt", **NEW)
    with pytest.raises(ErpUnavailable):
        erp.run(create)
    erp = stock.connector(kind)  # a patient one for the rest (the machine may be loaded)
    found = recover(erp, create)
    assert (found is not None) is written
    if found is None:  # what the workflow runner does: send it again only when it never ran
        found = erp.run(create)
    else:
        assert found.data["evidence"]
    (row,) = stock.admin.rows("SA2010", A2_CGC=NEW_CGC)  # exactly one supplier
    record = erp.read_record("supplier", str(found.canonical_id))
    assert record is not None and record.fields["name"] == NEW["name"]
    assert expected.digits(str(record.fields["tax_id"])) == row["A2_CGC"]


def test_a_write_with_no_standard_trace_is_undecided_never_resent(stock: Sandbox) -> None:
    erp = stock.connector("sap")
    supplier_id = IDS["sap"][0]
    attach = op("supplier.attach_document", supplier_id, "att", **NEW)
    with pytest.raises(ErpUndecided, match="check BusinessPartner:"):
        recover(erp, attach)
    assert stock.admin.calls().get("supplier.attach_document", 0) == 0


def test_sap_reads_field_evidence_and_refuses_to_guess_what_was_replaced(stock: Sandbox) -> None:
    erp = stock.connector("sap")
    supplier_id, po_id = IDS["sap"]
    block = op("supplier.block", supplier_id, "blk", reason="tax")
    assert recover(erp, block) is None  # not blocked: the PATCH never ran, safe to send
    blocked = erp.run(block)
    with pytest.raises(ErpUndecided, match="cannot be read back"):
        recover(erp, block)  # blocked now: by us or before us, and what it was is unknown
    unblock = undo("supplier.unblock", supplier_id, "blk:undo", blocked)
    assert recover(erp, unblock) is None
    erp.run(unblock)
    done = recover(erp, unblock)  # the restored values are there: it happened
    assert done is not None and done.data["evidence"]

    moved = op("purchase_order.update_delivery_date", po_id, "d", delivery_date="2026-06-30")
    assert recover(erp, moved) is None
    result = erp.run(moved)
    assert result.data["previous"]  # the per-line look-up is absent, and the write still ran
    with pytest.raises(ErpUndecided, match="schedule lines"):
        recover(erp, moved)
    restore = undo("purchase_order.restore_delivery_date", po_id, "d:undo", result)
    erp.run(restore)
    assert recover(erp, restore) is not None
    record = erp.read_record("purchase_order", po_id)
    assert (
        record is not None
        and record.fields["delivery_date"] == expected.purchase_order(1).delivery_date
    )


def test_the_full_sandbox_still_answers_by_key(sandbox: Sandbox, kind: str) -> None:
    erp: ErpConnector = sandbox.connector(kind)
    created = erp.run(op("supplier.create_record", None, "k", **NEW))
    assert recover(erp, op("supplier.create_record", None, "k", **NEW)) == created
    assert recover(erp, op("supplier.create_record", None, "never", **NEW)) is None


def test_oracle_reads_delivery_dates_in_force_and_completes_an_unsubmitted_change_order(
    stock: Sandbox,
) -> None:
    erp = stock.connector("oracle")
    po_id = IDS["oracle"][1]
    moved = op("purchase_order.update_delivery_date", po_id, "d", delivery_date="2026-06-30")
    stock.admin.fault("error", operation="purchase_order.submit", stage="before")
    with pytest.raises(ErpUnavailable):
        erp.run(moved)  # the change order is open and changed, but never submitted
    record = erp.read_record("purchase_order", po_id)
    assert record is not None and record.fields["delivery_date"] != "2026-06-30"
    assert recover(erp, moved) is None  # not in force: safe to send again
    stock.admin.clear_faults()
    result = erp.run(moved)  # completes the open change order and submits it
    record = erp.read_record("purchase_order", po_id)
    assert record is not None and record.fields["delivery_date"] == "2026-06-30"
    with pytest.raises(ErpUndecided, match="schedules"):
        recover(erp, moved)  # in force: by us, and what it replaced cannot be read back
    restore = undo("purchase_order.restore_delivery_date", po_id, "d:undo", result)
    assert recover(erp, restore) is None
    erp.run(restore)
    done = recover(erp, restore)
    assert done is not None and done.data["evidence"]
    record = erp.read_record("purchase_order", po_id)
    assert (
        record is not None
        and record.fields["delivery_date"] == expected.purchase_order(1).delivery_date
    )


@pytest.mark.parametrize(
    ("declared", "account"),
    [
        pytest.param(
            "standard",
            {"bank_code": "341", "branch": "0001", "account_number": "123456"},
            id="standard-fields",
        ),
        pytest.param(
            "iban=A2_XIBAN,account_holder=A2_XTITULA",
            {"iban": "CH9300762011623852957", "account_holder": "Auto Pecas AG"},
            id="declared-custom-fields",
        ),
    ],
)
def test_protheus_reads_a_bank_account_change_from_the_supplier_row(
    stock: Sandbox, declared: str, account: dict[str, str]
) -> None:
    erp = stock.connector("protheus", bank=bank_fields(declared))
    supplier_id = IDS["protheus"][0]
    change = op("supplier.update_bank_account", supplier_id, "acct", **account)
    assert recover(erp, change) is None  # the row does not hold it: the PUT never ran
    changed = erp.run(change)
    with pytest.raises(ErpUndecided, match="cannot be read back"):
        recover(erp, change)  # it does now, and what it replaced is not in the row
    restore = undo("supplier.restore_bank_account", supplier_id, "acct:undo", changed)
    assert recover(erp, restore) is None
    erp.run(restore)
    done = recover(erp, restore)
    assert done is not None and done.data["evidence"]


@pytest.mark.parametrize("kind", ["oracle", "protheus"])
def test_holds_bank_accounts_and_order_closes_are_read_from_the_records(
    stock: Sandbox, kind: str
) -> None:
    declared = {"bank": bank_fields("iban=A2_XIBAN,account_holder=A2_XTITULA")}
    erp = stock.connector(kind, **(declared if kind == "protheus" else {}))
    supplier_id, po_id = IDS[kind]
    account = {"iban": "CH9300762011623852957", "account_holder": "Auto Pecas AG"}
    _, filial, number = expected.purchase_order(1).native.split(":")
    for row in stock.admin.rows("SC7010", C7_FILIAL=filial, C7_NUM=number):
        stock.admin.change("SC7010", int(row["R_E_C_N_O_"]), C7_ENCER="")  # an open order
    for name, compensation, params, target in (
        ("supplier.block", "supplier.unblock", {"reason": "tax"}, supplier_id),
        ("supplier.update_bank_account", "supplier.restore_bank_account", account, supplier_id),
        ("purchase_order.close", "purchase_order.reopen", {}, po_id),
    ):
        write = op(name, target, name, **params)
        assert recover(erp, write) is None, name  # not there: it never ran, safe to send
        done = erp.run(write)
        with pytest.raises(ErpUndecided):
            recover(erp, write)  # there: by it or before it, and what it replaced is lost
        back = undo(compensation, target, f"{name}:undo", done)
        assert recover(erp, back) is None, compensation
        erp.run(back)
        restored = recover(erp, back)
        assert restored is not None and restored.data["evidence"], compensation


def test_oracle_reads_a_document_link_from_the_suppliers_attachments(stock: Sandbox) -> None:
    erp = stock.connector("oracle")
    supplier_id = IDS["oracle"][0]
    attach = op("supplier.attach_document", supplier_id, "att", **NEW)
    assert recover(erp, attach) is None  # no attachment with that URL: never ran
    attached = erp.run(attach)
    found = recover(erp, attach)
    assert found is not None and found.data["document_id"] == attached.data["document_id"]
    detach = undo("supplier.detach_document", supplier_id, "att:undo", attached)
    assert recover(erp, detach) is None
    erp.run(detach)
    gone = recover(erp, detach)
    assert gone is not None and gone.data["evidence"]
