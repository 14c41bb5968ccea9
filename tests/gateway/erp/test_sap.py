"""SAP specifics: CSRF tokens, ETags (428 without, 412 when stale: a conflict, never retried),
OData v2 envelopes, SAP's paging (`$top` a hard cap, `__next` for server pages only), and bodies
checked against the published metadata (`gateway.erp.sap_schema`)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from gateway.erp import sap_schema
from gateway.errors import ErpConflict
from sandbox.erp.sap import SERVER_PAGE
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import Sandbox
from tests.gateway.erp.test_connectors import op, source

SUPPLIERS = expected.live("SA2010")
FIRST, SECOND = (
    expected.ids("sap", "supplier", expected.party_id("SA2", row)) for row in SUPPLIERS[:2]
)
PO_ID = expected.ids("sap", "purchase_order", expected.purchase_order(1).native)
BP_URL = f"/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner('{FIRST.split(':')[1]}')"


def _client(sandbox: Sandbox) -> httpx.Client:
    return sandbox.client()


def test_writes_need_the_csrf_token_of_the_session(sandbox: Sandbox) -> None:
    with _client(sandbox) as http:
        refused = http.patch(BP_URL, json={"BusinessPartnerIsBlocked": True})
        assert refused.status_code == 403
        assert refused.json()["error"]["message"]["value"] == "CSRF token validation failed"
        fetched = http.get(BP_URL, headers={"x-csrf-token": "Fetch"})
        token, etag = fetched.headers["x-csrf-token"], fetched.headers["etag"]
        assert fetched.json()["d"]["__metadata"]["etag"] == etag
        ok = http.patch(
            BP_URL,
            json={"BusinessPartnerIsBlocked": True},
            headers={"x-csrf-token": token, "If-Match": etag},
        )
        assert ok.status_code == 204
    with _client(sandbox) as other_session:
        stolen = other_session.patch(
            BP_URL,
            json={"BusinessPartnerIsBlocked": False},
            headers={"x-csrf-token": token, "If-Match": "*"},
        )
        assert stolen.status_code == 403


def test_a_patch_needs_if_match_and_a_current_etag(sandbox: Sandbox) -> None:
    with _client(sandbox) as http:
        token = http.get(BP_URL, headers={"x-csrf-token": "Fetch"}).headers["x-csrf-token"]
        etag = http.get(BP_URL).headers["etag"]
        without = http.patch(
            BP_URL, json={"BusinessPartnerIsBlocked": True}, headers={"x-csrf-token": token}
        )
        assert without.status_code == 428
        http.patch(
            BP_URL,
            json={"BusinessPartnerIsBlocked": True},
            headers={"x-csrf-token": token, "If-Match": etag},
        )
        stale = http.patch(
            BP_URL,
            json={"BusinessPartnerIsBlocked": False},
            headers={"x-csrf-token": token, "If-Match": etag},
        )
        assert stale.status_code == 412


def test_the_connector_fetches_a_token_again_when_the_server_forgot_it(sandbox: Sandbox) -> None:
    erp = sandbox.connector("sap")
    erp.run(op("supplier.block", FIRST, "b1"))
    sandbox.app.state.sandbox.credentials.csrf.clear()
    erp.run(op("supplier.block", SECOND, "b2"))
    assert sandbox.admin.keys() == ["b1", "b2"]


@pytest.mark.network  # two clients at once, one of them held by the ERP
def test_a_record_changed_between_read_and_write_is_a_conflict_sent_once(
    sandbox: Sandbox,
) -> None:
    erp = sandbox.connector("sap")
    sandbox.admin.fault("block", operation="supplier.change", key="mine")
    outcome: list[BaseException] = []

    def block_it() -> None:
        try:
            erp.run(op("supplier.block", FIRST, "mine"))
        except BaseException as e:  # noqa: BLE001 — handed to the test thread
            outcome.append(e)

    thread = threading.Thread(target=block_it)
    thread.start()
    held = sandbox.admin.wait_for_hold("mine")  # read done, its PATCH held by the ERP
    sandbox.connector("sap").run(op("supplier.block", FIRST, "someone-else"))
    sandbox.admin.release(held["id"])
    thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], ErpConflict)
    assert "412" in str(outcome[0])
    assert sandbox.admin.keys() == ["someone-else"]
    assert sandbox.admin.calls()["supplier.change"] == 2


BP_SET = "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner"
PO_SRV = "/sap/opu/odata/sap/API_PURCHASEORDER_PROCESS_SRV"
SUPPLIER_FILTER = {"$filter": "Supplier ne ''"}


def _all(http: httpx.Client, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of one request and the `__next` links followed to get them."""
    body = http.get(BP_SET, params=params).json()["d"]
    rows, links = list(body["results"]), []
    while "__next" in body:
        links.append(body["__next"])
        body = http.get(body["__next"]).json()["d"]
        rows.extend(body["results"])
    return rows, links


def test_top_is_a_hard_cap_and_next_only_marks_server_pages(sandbox: Sandbox) -> None:
    assert len(SUPPLIERS) > 2 * SERVER_PAGE + 50  # the fixture spans several server pages
    with _client(sandbox) as http:
        capped, links = _all(http, {**SUPPLIER_FILTER, "$top": 2 * SERVER_PAGE + 50})
        assert len(capped) == 2 * SERVER_PAGE + 50  # never more than $top, though more exist
        assert [httpx.URL(u).params["$skiptoken"] for u in links] == [
            str(SERVER_PAGE),
            str(2 * SERVER_PAGE),
        ]
        small = http.get(BP_SET, params={**SUPPLIER_FILTER, "$top": 50}).json()["d"]
        assert len(small["results"]) == 50 and "__next" not in small
        everything, links = _all(http, SUPPLIER_FILTER)
        assert len(everything) == len(SUPPLIERS) and len(links) == len(SUPPLIERS) // SERVER_PAGE
        assert len({e["BusinessPartner"] for e in everything}) == len(SUPPLIERS)
        skipped = http.get(BP_SET, params={**SUPPLIER_FILTER, "$skip": 10, "$top": 5}).json()
        assert skipped["d"]["results"] == everything[10:15]
        entity = everything[0]
        assert entity["__metadata"]["type"] == "API_BUSINESS_PARTNER.A_BusinessPartnerType"
        assert "__deferred" not in str(entity) and "to_BusinessPartnerTax" not in entity


def test_an_extract_larger_than_a_server_page_is_complete(sandbox: Sandbox) -> None:
    erp = sandbox.connector("sap")
    size = 2 * SERVER_PAGE + 50  # a client page spans server pages; the master spans client pages
    pages = list(erp.extract("supplier", source("sap", "supplier"), page_size=size))
    assert [len(p) for p in pages] == [size, len(SUPPLIERS) - size]
    assert sandbox.admin.calls()["supplier.list"] == 3 + -(-(len(SUPPLIERS) - size) // SERVER_PAGE)
    ids = {row["BusinessPartner"] for page in pages for row in page}
    assert len(ids) == len(SUPPLIERS) and FIRST.split(":")[1] in ids
    orders = [
        row
        for page in erp.extract("purchase_order", source("sap", "purchase_order"), page_size=150)
        for row in page
    ]
    numbers = {(r["C7_FILIAL"], r["C7_NUM"]) for r in expected.live("SC7010")}
    assert len(orders) == len(numbers) and len(numbers) > 150
    history = erp.value_history("purchase_order", PO_ID, "amount")
    assert sorted(history) == expected.purchase_order(1).other_totals


def _po(http: httpx.Client, number: str, expand: str = "") -> Any:
    params = {"$expand": expand} if expand else {}
    return http.get(f"{PO_SRV}/A_PurchaseOrder('{number}')", params=params)


def test_purchase_orders_place_fields_where_the_published_metadata_does(sandbox: Sandbox) -> None:
    number = PO_ID.split(":")[1]
    with _client(sandbox) as http:
        head = _po(http, number, "to_PurchaseOrderItem/to_ScheduleLine").json()["d"]
    items = head.pop("to_PurchaseOrderItem")["results"]
    lines = [line for item in items for line in item.pop("to_ScheduleLine")["results"]]
    assert items and len(lines) == len(items)
    for entity_set, entities in (
        ("A_PurchaseOrder", [head]),
        ("A_PurchaseOrderItem", items),
        ("A_PurchaseOrderScheduleLine", lines),
    ):
        published = set(sap_schema.ENTITY_SETS[entity_set].properties)
        for entity in entities:
            assert set(entity) - {"__metadata"} <= published, entity_set
    assert {"PurchaseOrderNetAmount", "ScheduleLineDeliveryDate"}.isdisjoint(head)
    assert all("IsCompletelyDelivered" in item for item in items)
    assert all("ScheduleLineDeliveryDate" in line for line in lines)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        pytest.param(
            "API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrder('{po}')",
            {"PurchasingProcessingStatus": "05"},
            "PurchasingProcessingStatus: the property is not updatable",
            id="read-only-status",
        ),
        pytest.param(
            "API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrder('{po}')",
            {"IsCompletelyDelivered": True},
            "IsCompletelyDelivered: the property does not exist on A_PurchaseOrderType",
            id="item-field-on-header",
        ),
        pytest.param(
            "API_BUSINESS_PARTNER/A_BusinessPartner('{bp}')",
            {"BusinessPartnerIsBlocked": True, "HoldFlag": True},
            "HoldFlag: the property does not exist",
            id="unknown-property",
        ),
        pytest.param(
            "API_BUSINESS_PARTNER/A_BusinessPartner('{bp}')",
            {"BusinessPartnerFullName": "X"},
            "BusinessPartnerFullName: the property is not updatable",
            id="computed-name",
        ),
    ],
)
def test_patches_the_metadata_does_not_allow_are_refused(
    sandbox: Sandbox, path: str, body: dict[str, Any], message: str
) -> None:
    url = "/sap/opu/odata/sap/" + path.format(po=PO_ID.split(":")[1], bp=FIRST.split(":")[1])
    with _client(sandbox) as http:
        fetched = http.get(url, headers={"x-csrf-token": "Fetch"})
        headers = {"x-csrf-token": fetched.headers["x-csrf-token"], "If-Match": "*"}
        refused = http.patch(url, json=body, headers=headers)
    assert refused.status_code == 400
    assert message in refused.json()["error"]["message"]["value"]
    assert sandbox.admin.keys() == []


def test_the_connector_checks_a_patch_against_the_metadata_before_sending() -> None:
    sap_schema.check("A_PurchaseOrderItem", {"IsCompletelyDelivered": True}, creating=False)
    with pytest.raises(sap_schema.MetadataError, match="not updatable"):
        sap_schema.check("A_PurchaseOrder", {"PurchasingProcessingStatus": "05"}, creating=False)
    with pytest.raises(sap_schema.MetadataError, match="not updatable"):
        sap_schema.check("A_PurchaseOrderItem", {"PurchaseOrderItem": "00020"}, creating=False)
    with pytest.raises(sap_schema.MetadataError, match="not creatable"):
        sap_schema.check("A_BusinessPartner", {"BusinessPartnerFullName": "X"}, creating=True)
    sap_schema.check("A_BusinessPartner", {"to_BusinessPartnerRole": {}}, creating=True)


def _open_order() -> tuple[str, list[dict[str, str]]]:
    """The first purchase order of several items, awaiting release and not delivered."""
    for position in range(len(expected.live("SC7010"))):
        po = expected.purchase_order(position)
        _, filial, number = po.native.split(":")
        items = [
            r for r in expected.live("SC7010") if (r["C7_FILIAL"], r["C7_NUM"]) == (filial, number)
        ]
        if len(items) > 1 and all(r["C7_CONAPRO"] == "B" and not r["C7_ENCER"] for r in items):
            return expected.ids("sap", "purchase_order", po.native), items
    raise AssertionError("the fixture has no open purchase order of several items")


def test_approval_is_a_release_and_closing_patches_each_item(sandbox: Sandbox) -> None:
    po_id, items = _open_order()
    erp = sandbox.connector("sap")
    released = erp.run(op("purchase_order.approve", po_id, "a"))
    record = erp.read_record("purchase_order", po_id)
    assert record is not None and record.fields["approved"] is True
    assert {r["C7_CONAPRO"] for r in sandbox.admin.live("SC7010", C7_NUM=items[0]["C7_NUM"])} == {
        "L"
    }
    closed = erp.run(op("purchase_order.close", po_id, "c"))
    assert sorted(closed.data["previous"]) == [f"{int(i['C7_ITEM']) * 10:05d}" for i in items]
    record = erp.read_record("purchase_order", po_id)
    assert record is not None and record.fields["closed"] is True
    assert sandbox.admin.calls()["purchase_order.change"] == len(items)  # one PATCH an item

    erp.run(op("purchase_order.reopen", po_id, "c:undo", result=closed.model_dump(mode="json")))
    erp.run(
        op(
            "purchase_order.revoke_approval",
            po_id,
            "a:undo",
            result=released.model_dump(mode="json"),
        )
    )
    record = erp.read_record("purchase_order", po_id)
    assert record is not None and record.fields["closed"] is False
    assert record.fields["approved"] is False
    assert sandbox.admin.keys() == [
        "a",
        *[f"c@{int(i['C7_ITEM']) * 10:05d}" for i in items],
        *[f"c:undo@{int(i['C7_ITEM']) * 10:05d}" for i in items],
        "a:undo",
    ]


def test_closing_leaves_items_already_delivered_as_they_were(sandbox: Sandbox) -> None:
    po_id, items = _open_order()
    erp = sandbox.connector("sap")
    first = f"{int(items[0]['C7_ITEM']) * 10:05d}"
    url = f"{PO_SRV}/A_PurchaseOrderItem(PurchaseOrder='{po_id.split(':')[1]}',"
    url += f"PurchaseOrderItem='{first}')"
    with _client(sandbox) as http:
        fetched = http.get(url, headers={"x-csrf-token": "Fetch"})
        headers = {
            "x-csrf-token": fetched.headers["x-csrf-token"],
            "If-Match": fetched.headers["etag"],
        }
        assert (
            http.patch(url, json={"IsCompletelyDelivered": True}, headers=headers).status_code
            == 204
        )
    closed = erp.run(op("purchase_order.close", po_id, "c"))
    assert first not in closed.data["previous"] and len(closed.data["previous"]) == len(items) - 1
    erp.run(op("purchase_order.reopen", po_id, "c:undo", result=closed.model_dump(mode="json")))
    with _client(sandbox) as http:
        assert http.get(url).json()["d"]["IsCompletelyDelivered"] is True


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("A_BusinessPartner('1799999999')", 404, id="unknown-partner"),
        pytest.param("A_BusinessPartner?$filter=Foo gt 1", 400, id="unsupported-filter"),
        pytest.param("A_BusinessPartner?$skiptoken=abc&$filter=Supplier ne ''", 400, id="token"),
    ],
)
def test_errors_are_odata_errors(sandbox: Sandbox, path: str, status: int) -> None:
    with _client(sandbox) as http:
        response = http.get(f"/sap/opu/odata/sap/API_BUSINESS_PARTNER/{path}")
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message"}


def test_which_block_a_supplier_gets_is_the_deployments_choice(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="block_field"):
        sandbox.connector("sap", block_field="FLVN")
    erp = sandbox.connector("sap", block_field="PurchasingIsBlocked")
    blocked = erp.run(op("supplier.block", FIRST, "pb", reason="audit"))
    assert blocked.data["previous"] == {"PurchasingIsBlocked": False}
    record = erp.read_record("supplier", FIRST)
    assert record is not None and record.fields["blocked"] is True
    supplier = f"/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_Supplier('{FIRST.split(':')[1]}')"
    with _client(sandbox) as http:
        assert http.get(supplier).json()["d"]["PurchasingIsBlocked"] is True
    erp.run(op("supplier.unblock", FIRST, "pb:undo", result=blocked.model_dump(mode="json")))
    record = erp.read_record("supplier", FIRST)
    assert record is not None and record.fields["blocked"] is False
    assert sandbox.admin.keys() == ["pb", "pb:undo"]
