"""The guard that does not depend on the resolver's freshness: right before `supplier.create`'s
first write, the workflow reads the ERP for the new supplier's tax id and refuses with
`duplicate-in-erp`, naming the record the ERP already holds, when one is there. Against the
sandbox ERP over Protheus REST (a CNPJ stored with or without punctuation) and the local ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import Gateway, LocalLedgerConnector, Store
from gateway.erp import ErpOperation
from gateway.erp.base import TaxIdSearch
from tests.gateway.conftest import Clock, KeyMaker, decide_action, make_gateway
from tests.gateway.erp.sandbox import Sandbox, running_sandbox
from tests.gateway.test_workflow import CNPJ, NEW, erp_gateway, kinds, propose


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path / "sandbox", network=False) as running:
        yield running


def _someone_creates(sandbox: Sandbox, tax_id: str) -> str:
    """Another user of the ERP registers the supplier first (not through Canon)."""
    done = sandbox.connector().run(
        ErpOperation(
            operation="supplier.create_record",
            entity_type="supplier",
            canonical_id=None,
            params={"name": "ZEBULON QUANTUM ROBOTICS", "tax_id": tax_id},
            idempotency_key="someone-else-1",
        )
    )
    assert done.canonical_id is not None
    return done.canonical_id


@pytest.mark.parametrize("stored", [CNPJ, "11.222.333/0001-81"], ids=["digits", "punctuated"])
def test_a_supplier_created_meanwhile_in_the_erp_refuses_the_creation(
    store: Store, sandbox: Sandbox, clock: Clock, key: KeyMaker, stored: str
) -> None:
    gate = erp_gateway(store, sandbox.connector("protheus", timeout=5), clock)
    view = propose(gate, key())  # the token said no_match: the ERP had no such supplier then
    if stored == CNPJ:
        existing = _someone_creates(sandbox, stored)
    else:  # a row written by another system, its CNPJ punctuated as the sample's are
        existing = _someone_creates(sandbox, CNPJ)
        (row,) = sandbox.admin.rows("SA2010", A2_CGC=CNPJ)
        sandbox.admin.change("SA2010", int(row["R_E_C_N_O_"]), A2_CGC=stored)
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "failed"
    assert done.error is not None and done.error.startswith("duplicate-in-erp: ")
    assert existing in done.error and "ZEBULON QUANTUM ROBOTICS" in done.error
    assert [s.status for s in done.steps] == ["failed", "planned", "planned"]
    assert sandbox.admin.calls()["supplier.create_record"] == 1  # the other user's only
    assert len(sandbox.admin.rows("SA2010", A2_CGC=stored)) == 1
    assert "step.failed" in kinds(gate, key("admin"), view.id)


def test_a_deleted_supplier_with_that_tax_id_does_not_block_the_creation(
    store: Store, sandbox: Sandbox, clock: Clock, key: KeyMaker
) -> None:
    erp = sandbox.connector("protheus", timeout=5)
    gone = _someone_creates(sandbox, CNPJ)
    erp.run(
        ErpOperation(
            operation="supplier.delete_record",
            entity_type="supplier",
            canonical_id=gone,
            idempotency_key="someone-else-2",
        )
    )
    assert isinstance(erp, TaxIdSearch) and erp.find_by_tax_id("supplier", CNPJ) == []
    gate = erp_gateway(store, erp, clock)
    done = decide_action(gate, key("approver"), propose(gate, key()), approve=True, reason="")
    assert done.status == "succeeded"
    (live,) = erp.find_by_tax_id("supplier", NEW["tax_id"])
    assert live.canonical_id != gone and live.fields["name"] == NEW["name"]


def test_the_ledger_refuses_a_duplicate_too(
    store: Store, ledger: LocalLedgerConnector, clock: Clock, key: KeyMaker
) -> None:
    ledger.put_record(
        "supplier", "SA2:01:000777:01", {"name": "Zebulon", "tax_id": "11222333/0001-81"}
    )
    gate: Gateway = make_gateway(store, ledger, clock)
    done = decide_action(gate, key("approver"), propose(gate, key()), approve=True, reason="")
    assert done.status == "failed"
    assert done.error is not None and "duplicate-in-erp" in done.error
    assert "SA2:01:000777:01 (Zebulon)" in done.error
    assert [op.operation for op in ledger.journal()] == []
