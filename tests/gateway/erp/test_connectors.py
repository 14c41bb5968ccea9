"""What every HTTP connector does, each in its own wire format, against the sandbox ERP."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.erp import ErpConnector, ErpOperation, ErpResult
from gateway.errors import ErpOperationFailed, ErpUnavailable, ErpUnsupported
from resolver import load_profile
from resolver.extracts import canonical_ids, read_extract
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import Sandbox

PROFILES = Path(__file__).resolve().parents[3] / "config" / "profiles"
KINDS = ["protheus", "sap", "oracle"]
#: The first supplier of the fixture and its second purchase order, read from its CSVs.
SUPPLIER, PO = expected.first_supplier(), expected.purchase_order(1)
#: Their ids as each ERP names them.
IDS = {
    kind: (
        expected.ids(kind, "supplier", SUPPLIER.native),
        expected.ids(kind, "purchase_order", PO.native),
    )
    for kind in KINDS
}
NEW = {
    "name": "Zebulon Quantum Robotics Ltda",
    "tax_id": "11.222.333/0001-81",
    "city": "Campinas",
    "state": "SP",
    "document": "dms://suppliers/zebulon.pdf",
}
NEW_CGC = expected.digits(NEW["tax_id"])  # A2_CGC holds the digits
#: A dropped connection or a client timeout is the network's: a sandbox served on a socket.
NETWORK = pytest.mark.network


def op(operation: str, target: str | None, key: str, /, **params: Any) -> ErpOperation:
    return ErpOperation(
        operation=operation,
        entity_type=operation.split(".")[0],
        canonical_id=target,
        params=params,
        idempotency_key=key,
    )


def source(kind: str, entity_type: str) -> dict[str, str] | None:
    """Where the shipped profile of `kind` says the ERP keeps an entity type's records."""
    return load_profile(PROFILES / f"{kind}.yaml").source(entity_type)


def undo(operation: str, target: str | None, key: str, done: ErpResult) -> ErpOperation:
    return op(operation, target, key, undo="forward", result=done.model_dump(mode="json"))


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def erp(sandbox: Sandbox, kind: str) -> ErpConnector:
    connector: ErpConnector = sandbox.connector(kind)
    return connector


def test_reads_the_same_supplier_and_order_in_every_format(erp: ErpConnector, kind: str) -> None:
    supplier_id, po_id = IDS[kind]
    supplier = erp.read_record("supplier", supplier_id)
    assert supplier is not None and not supplier.deleted
    assert supplier.fields["name"] == SUPPLIER.name
    assert expected.digits(supplier.fields["tax_id"]) == SUPPLIER.tax_id
    po = erp.read_record("purchase_order", po_id)
    assert po is not None
    assert (po.fields["amount"], po.fields["currency"]) == (PO.amount, PO.currency)
    assert po.fields["supplier_name"] == PO.supplier.name
    assert (po.fields["issued"], po.fields["delivery_date"]) == (PO.issued, PO.delivery_date)
    assert sorted(erp.value_history("purchase_order", po_id, "amount")) == PO.other_totals
    assert PO.other_totals  # the fixture gives this supplier other orders to compare with


def test_unknown_records_read_as_none(erp: ErpConnector, kind: str) -> None:
    missing = {
        "protheus": "SA2::999999:01",
        "sap": "BusinessPartner:1799999999",
        "oracle": "Supplier:300000099999999",
    }[kind]
    assert erp.read_record("supplier", missing) is None
    assert erp.read_record("ticket", "T-1") is None


def test_supplier_create_attach_route_and_undo_in_reverse(
    erp: ErpConnector, sandbox: Sandbox, kind: str
) -> None:
    created = erp.run(op("supplier.create_record", None, "w:0", **NEW))
    target = created.canonical_id
    assert target is not None and target.split(":")[0] == IDS[kind][0].split(":")[0]
    record = erp.read_record("supplier", target)
    assert record is not None and record.fields["name"] == NEW["name"]
    assert record.fields["tax_id"] == NEW_CGC and record.fields["city"] == NEW["city"]
    attached = erp.run(op("supplier.attach_document", target, "w:1", **NEW))
    routed = erp.run(op("supplier.start_approval_routing", target, "w:2", **NEW))
    (row,) = sandbox.admin.live("SA2010", A2_CGC=NEW_CGC)
    code = row["A2_COD"] + row["A2_LOJA"]
    assert [r["AC9_CODOBJ"] for r in sandbox.admin.live("AC9010", AC9_CODENT=code)] == [
        attached.data["document_id"] if kind != "oracle" else f"{attached.data['document_id']:010d}"
    ]
    assert len(sandbox.admin.live("SCR010", CR_NUM=code)) == 1

    erp.run(undo("supplier.cancel_approval_routing", target, "w:2:undo", routed))
    erp.run(undo("supplier.detach_document", target, "w:1:undo", attached))
    erp.run(undo("supplier.delete_record", target, "w:0:undo", created))
    assert sandbox.admin.live("AC9010", AC9_CODENT=code) == []
    assert sandbox.admin.live("SCR010", CR_NUM=code) == []
    (deleted,) = sandbox.admin.rows("SA2010", A2_CGC=NEW_CGC)
    assert deleted["D_E_L_E_T_"] == "*" and deleted["R_E_C_D_E_L_"] == deleted["R_E_C_N_O_"]
    gone = erp.read_record("supplier", target)
    assert gone is not None and gone.deleted
    assert sandbox.admin.keys() == ["w:0", "w:1", "w:2", "w:2:undo", "w:1:undo", "w:0:undo"]


def test_a_key_runs_once_and_is_found_by_lookup(erp: ErpConnector, sandbox: Sandbox) -> None:
    first = erp.run(op("supplier.create_record", None, "once", **NEW))
    again = erp.run(op("supplier.create_record", None, "once", **NEW))
    assert again == first
    found = erp.lookup("once")
    assert found is not None
    assert (found.canonical_id, found.data) == (first.canonical_id, first.data)
    assert erp.lookup("never-sent") is None
    assert len(sandbox.admin.rows("SA2010", A2_CGC=NEW_CGC)) == 1


def test_another_payload_under_a_used_key_is_refused(erp: ErpConnector) -> None:
    erp.run(op("supplier.create_record", None, "k", **NEW))
    with pytest.raises(ErpOperationFailed, match="already used"):
        erp.run(op("supplier.create_record", None, "k", **{**NEW, "name": "Other Ltda"}))


def test_updates_report_what_they_replaced_and_restore_it(
    erp: ErpConnector, sandbox: Sandbox, kind: str
) -> None:
    supplier_id, po_id = IDS[kind]
    blocked = erp.run(op("supplier.block", supplier_id, "b", reason="tax"))
    record = erp.read_record("supplier", supplier_id)
    assert record is not None and record.fields["blocked"] is True
    erp.run(undo("supplier.unblock", supplier_id, "b:undo", blocked))
    record = erp.read_record("supplier", supplier_id)
    assert record is not None and record.fields["blocked"] is False

    moved = erp.run(
        op("purchase_order.update_delivery_date", po_id, "d", delivery_date="2026-06-30")
    )
    po = erp.read_record("purchase_order", po_id)
    assert po is not None and po.fields["delivery_date"] == "2026-06-30"
    if kind in ("sap", "oracle"):  # several writes, each under its own key `d@<part>`
        # SAP: a PATCH per schedule line; Oracle: a change order opened, its schedules
        # changed, then submitted (nothing is in force before the submit)
        written = sandbox.admin.keys()
        assert moved.data["previous"] and written[-1].startswith("d@")
        if kind == "oracle":
            assert written[-1] == "d@submit" and "d@open" in written
        again = erp.run(
            op("purchase_order.update_delivery_date", po_id, "d", delivery_date="2026-06-30")
        )
        assert again.data == moved.data and sandbox.admin.keys() == written  # sent once
    else:
        looked_up = erp.lookup("d")
        assert looked_up is not None and looked_up.data == moved.data
    erp.run(undo("purchase_order.restore_delivery_date", po_id, "d:undo", moved))
    po = erp.read_record("purchase_order", po_id)
    assert po is not None and po.fields["delivery_date"] == PO.delivery_date

    account = {"iban": "CH9300762011623852957", "account_holder": "Auto Pecas AG"}
    # Protheus keeps the standard SA2 fields unless the installation declares others
    brazilian = {"bank_code": "341", "branch": "0001", "account_number": "123456"}
    erp.run(op("supplier.update_bank_account", supplier_id, "iban", **account, **brazilian))
    record = erp.read_record("supplier", supplier_id)
    held = brazilian if kind == "protheus" else account
    assert record is not None and {k: record.fields[k] for k in held} == held


def test_a_refusal_changes_nothing_and_is_final(erp: ErpConnector, sandbox: Sandbox) -> None:
    sandbox.admin.fault("error", operation="supplier.create_record", status=422, times=None)
    with pytest.raises(ErpOperationFailed, match="422"):
        erp.run(op("supplier.create_record", None, "r", **NEW))
    assert sandbox.admin.keys() == [] and erp.lookup("r") is None


@pytest.mark.parametrize(
    ("fault", "stage", "written"),
    [
        pytest.param("error", "before", False, id="503-before-the-write"),
        pytest.param("error", "after", True, id="503-after-the-write"),
        pytest.param("reset", "before", False, id="reset-before-the-write", marks=NETWORK),
        pytest.param("reset", "after", True, id="reset-after-the-write", marks=NETWORK),
        pytest.param(
            "timeout_after_commit", "after", True, id="timeout-after-commit", marks=NETWORK
        ),  # fmt: skip
    ],
)
def test_an_answer_that_does_not_say_is_in_doubt_and_lookup_settles_it(
    sandbox: Sandbox, kind: str, fault: str, stage: str, written: bool
) -> None:
    erp = sandbox.connector(kind, timeout=0.5)
    sandbox.admin.fault(fault, operation="supplier.create_record", stage=stage, seconds=2)
    with pytest.raises(ErpUnavailable):
        erp.run(op("supplier.create_record", None, "doubt", **NEW))
    found = erp.lookup("doubt")
    assert (found is not None) is written
    if found is None:  # what the workflow runner does: send it again only when not found
        erp.run(op("supplier.create_record", None, "doubt", **NEW))
    assert len(sandbox.admin.rows("SA2010", A2_CGC=NEW_CGC)) == 1


@pytest.mark.network  # the client gives up on a request the ERP holds
def test_a_key_still_in_flight_is_in_doubt_not_sent_twice(sandbox: Sandbox, kind: str) -> None:
    erp = sandbox.connector(kind, timeout=0.5)
    sandbox.admin.fault("block", operation="supplier.create_record", seconds=10)
    with pytest.raises(ErpUnavailable, match="timed out"):
        erp.run(op("supplier.create_record", None, "slow", **NEW))
    with pytest.raises(ErpUnavailable, match="409"):
        erp.run(op("supplier.create_record", None, "slow", **NEW))
    sandbox.admin.release(sandbox.admin.wait_for_hold("slow")["id"])
    found = _eventually(lambda: erp.lookup("slow"))
    assert erp.run(op("supplier.create_record", None, "slow", **NEW)) == found
    assert len(sandbox.admin.rows("SA2010", A2_CGC=NEW_CGC)) == 1


def _eventually(read: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError("nothing came")


def test_unknown_operations_are_refused(erp: ErpConnector, kind: str) -> None:
    with pytest.raises(ErpUnsupported, match="invoice.pay: not an operation the .* connector"):
        erp.run(op("invoice.pay", "T-1", "t", amount=1))
    # an operation of the catalog that this ERP does not publish (docs/ERP.md)
    absent = {
        "protheus": "ticket.close",
        "sap": "transaction.reclassify",
        "oracle": "transaction.reclassify",
    }
    with pytest.raises(ErpUnsupported, match=f"{absent[kind]}: not an operation the"):
        erp.run(op(absent[kind], "T-1", "t"))


def test_extracts_page_through_the_master_and_fit_the_profile(
    erp: ErpConnector, kind: str, tmp_path: Path
) -> None:
    profile = load_profile(PROFILES / f"{kind}.yaml")
    for entity_type, table in (("supplier", "SA2010"), ("customer", "SA1010")):
        live = len(expected.live(table))
        pages = list(erp.extract(entity_type, source(kind, entity_type), page_size=150))
        assert [len(p) for p in pages] == [min(150, live - i) for i in range(0, live, 150)]
        spec = profile.entity_types[entity_type]
        path = tmp_path / f"{spec.table}.csv"
        columns = sorted({c for page in pages for row in page for c in row})
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(row for page in pages for row in page)
        frame = read_extract(path, spec)
        ids = canonical_ids(frame, spec)
        assert len(frame) == live and ids.is_unique
        assert IDS[kind][0] in set(ids) or entity_type == "customer"
