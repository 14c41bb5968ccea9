"""The local ledger ERP: idempotent operations (also under concurrency), records and history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.erp import ErpOperation, LocalLedgerConnector
from gateway.errors import ErpOperationFailed


@pytest.fixture
def ledger(tmp_path: Path) -> LocalLedgerConnector:
    return LocalLedgerConnector(tmp_path / "erp" / "ledger.sqlite")


def _op(
    operation: str, key: str, canonical_id: str | None = "SC7:01:1", **params: object
) -> ErpOperation:
    entity = operation.split(".")[0]
    return ErpOperation(
        operation=operation,
        entity_type=entity,
        canonical_id=canonical_id,
        params=params,
        idempotency_key=key,
    )


def test_same_key_runs_once(ledger: LocalLedgerConnector) -> None:
    first = ledger.run(_op("purchase_order.close", "k1"))
    again = ledger.run(_op("purchase_order.close", "k1"))
    assert first == again
    assert [op.idempotency_key for op in ledger.journal()] == ["k1"]
    assert ledger.lookup("k1") == first
    assert ledger.lookup("k2") is None


def test_concurrent_runs_of_one_key_write_once(ledger: LocalLedgerConnector) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ledger.run(_op("ticket.close", "same")), range(32)))
    assert len({r.model_dump_json() for r in results}) == 1
    assert len(ledger.journal()) == 1


def test_operation_records_the_state_before(ledger: LocalLedgerConnector) -> None:
    ledger.put_record("purchase_order", "SC7:01:1", {"amount": 10, "delivery_date": "2026-05-01"})
    result = ledger.run(_op("purchase_order.update_delivery_date", "k", delivery_date="2026-06-01"))
    assert result.data["before"] == {"amount": 10, "delivery_date": "2026-05-01"}


def test_create_then_delete_record(ledger: LocalLedgerConnector) -> None:
    created = ledger.run(_op("supplier.create_record", "c", None, name="ABC", tax_id="1"))
    assert created.canonical_id == "LEDGER:supplier:000001"
    record = ledger.read_record("supplier", "LEDGER:supplier:000001")
    assert record is not None and record.fields == {"name": "ABC", "tax_id": "1"}
    ledger.run(_op("supplier.delete_record", "d", created.canonical_id))
    deleted = ledger.read_record("supplier", "LEDGER:supplier:000001")
    assert deleted is not None and deleted.deleted


def test_refused_operation_changes_nothing(tmp_path: Path) -> None:
    ledger = LocalLedgerConnector(tmp_path / "l.sqlite", refuse={"ticket.close": "period closed"})
    with pytest.raises(ErpOperationFailed, match="period closed"):
        ledger.run(_op("ticket.close", "k"))
    assert ledger.journal() == []
    assert ledger.lookup("k") is None


def test_value_history_is_the_group_without_the_record(ledger: LocalLedgerConnector) -> None:
    for i, amount in enumerate([100, 120, 90, "n/a"]):
        ledger.put_record("purchase_order", f"SC7:01:{i}", {"amount": amount}, group_key="SA2:A")
    ledger.put_record("purchase_order", "SC7:01:9", {"amount": 5000}, group_key="SA2:B")
    assert sorted(ledger.value_history("purchase_order", "SC7:01:0", "amount")) == [90.0, 120.0]
    assert ledger.value_history("purchase_order", "SC7:01:404", "amount") == []


def test_unknown_record_reads_as_none(ledger: LocalLedgerConnector) -> None:
    assert ledger.read_record("supplier", "SA2:01:X:01") is None
