"""Oracle specifics: limit (at most 500) / offset / hasMore, inactive suppliers, PO actions."""

from __future__ import annotations

import httpx
import pytest

from gateway.erp import OracleConnector
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox
from tests.gateway.erp.test_connectors import op

ROOT = "/fscmRestApi/resources/11.13.18.05"
SUPPLIERS = expected.live("SA2010")  # lists leave soft-deleted rows out
FIRST = expected.ids("oracle", "supplier", expected.party_id("SA2", SUPPLIERS[0]))
ORDER = expected.ids("oracle", "purchase_order", expected.purchase_order(1).native)


def test_collections_page_with_limit_offset_and_has_more(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, auth=(USER, PASSWORD)) as http:
        first = http.get(f"{ROOT}/suppliers", params={"limit": 300, "offset": 0}).json()
        assert (first["count"], first["hasMore"], first["limit"]) == (300, True, 300)
        rest = http.get(f"{ROOT}/suppliers", params={"limit": 300, "offset": 300}).json()
        assert (rest["count"], rest["hasMore"]) == (len(SUPPLIERS) - 300, False)
        too_many = http.get(f"{ROOT}/suppliers", params={"limit": 501})
        assert too_many.status_code == 422


def test_the_connector_asks_for_at_most_500_a_page(sandbox: Sandbox) -> None:
    erp = OracleConnector(sandbox.url, username=USER, password=PASSWORD)
    sizes = [len(page) for page in erp.extract("supplier", page_size=10_000)]
    assert sizes == [len(SUPPLIERS)]
    calls = sandbox.admin.calls()
    assert calls["supplier.list"] == 1


def test_a_supplier_is_never_deleted_only_made_inactive(sandbox: Sandbox) -> None:
    erp = OracleConnector(sandbox.url, username=USER, password=PASSWORD)
    erp.run(op("supplier.delete_record", FIRST, "gone"))
    record = erp.read_record("supplier", FIRST)
    assert record is not None and record.deleted
    (row,) = sandbox.admin.rows(
        "SA2010", A2_COD=SUPPLIERS[0]["A2_COD"], A2_LOJA=SUPPLIERS[0]["A2_LOJA"]
    )
    assert row["D_E_L_E_T_"] == "*"
    rows = [row for page in erp.extract("supplier") for row in page]
    assert all(row["SupplierId"] != FIRST.split(":")[1] for row in rows)
    assert len(rows) == len(SUPPLIERS) - 1


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        pytest.param("purchase_order.close", "CLOSED", id="close"),
        pytest.param("purchase_order.revoke_approval", "PENDING APPROVAL", id="revoke-approval"),
    ],
)
def test_purchase_orders_change_through_actions(
    sandbox: Sandbox, operation: str, status: str
) -> None:
    erp = OracleConnector(sandbox.url, username=USER, password=PASSWORD)
    erp.run(op("purchase_order.reopen", ORDER, "open"))
    erp.run(op(operation, ORDER, "act"))
    with httpx.Client(base_url=sandbox.url, auth=(USER, PASSWORD)) as http:
        item = http.get(f"{ROOT}/purchaseOrders/{ORDER.split(':')[1]}").json()
    assert item["Status"] == status
