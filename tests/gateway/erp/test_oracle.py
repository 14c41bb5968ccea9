"""Oracle specifics: limit (at most 500) / offset / hasMore, inactive suppliers, PO actions, and
write bodies checked against the published REST reference (`gateway.erp.oracle_schema`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.erp import oracle_schema
from gateway.erp.http import result
from gateway.errors import ErpOperationFailed, ErpUnsupported
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import Sandbox
from tests.gateway.erp.test_connectors import op, source

ROOT = "/fscmRestApi/resources/11.13.18.05"
SUPPLIERS = expected.live("SA2010")  # lists leave soft-deleted rows out
FIRST = expected.ids("oracle", "supplier", expected.party_id("SA2", SUPPLIERS[0]))
ORDER = expected.ids("oracle", "purchase_order", expected.purchase_order(1).native)


def test_collections_page_with_limit_offset_and_has_more(sandbox: Sandbox) -> None:
    with sandbox.client() as http:
        first = http.get(f"{ROOT}/suppliers", params={"limit": 300, "offset": 0}).json()
        assert (first["count"], first["hasMore"], first["limit"]) == (300, True, 300)
        rest = http.get(f"{ROOT}/suppliers", params={"limit": 300, "offset": 300}).json()
        assert (rest["count"], rest["hasMore"]) == (len(SUPPLIERS) - 300, False)
        too_many = http.get(f"{ROOT}/suppliers", params={"limit": 501})
        assert too_many.status_code == 422


def test_the_connector_asks_for_at_most_500_a_page(sandbox: Sandbox) -> None:
    erp = sandbox.connector("oracle")
    sizes = [
        len(page)
        for page in erp.extract("supplier", source("oracle", "supplier"), page_size=10_000)
    ]
    assert sizes == [len(SUPPLIERS)]
    calls = sandbox.admin.calls()
    assert calls["supplier.list"] == 1


def test_a_supplier_is_never_deleted_only_made_inactive(sandbox: Sandbox) -> None:
    erp = sandbox.connector("oracle")
    erp.run(op("supplier.delete_record", FIRST, "gone"))
    record = erp.read_record("supplier", FIRST)
    assert record is not None and record.deleted
    (row,) = sandbox.admin.rows(
        "SA2010", A2_COD=SUPPLIERS[0]["A2_COD"], A2_LOJA=SUPPLIERS[0]["A2_LOJA"]
    )
    assert row["D_E_L_E_T_"] == "*"
    rows = [row for page in erp.extract("supplier", source("oracle", "supplier")) for row in page]
    assert all(row["SupplierId"] != FIRST.split(":")[1] for row in rows)
    assert len(rows) == len(SUPPLIERS) - 1


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        pytest.param("purchase_order.close", "CLOSED", id="close"),
        pytest.param("purchase_order.reopen", "OPEN", id="reopen"),
    ],
)
def test_purchase_orders_change_through_actions(
    sandbox: Sandbox, operation: str, status: str
) -> None:
    erp = sandbox.connector("oracle")
    erp.run(op("purchase_order.reopen", ORDER, "open"))
    erp.run(op(operation, ORDER, "act"))
    with sandbox.client() as http:
        item = http.get(_po_url(http)).json()
    assert item["Status"] == status


def test_holds_live_on_sites_and_bank_details_on_external_bank_accounts(sandbox: Sandbox) -> None:
    erp = sandbox.connector("oracle")
    supplier_id = FIRST.split(":")[1]
    with sandbox.client() as http:
        item = http.get(f"{ROOT}/suppliers/{supplier_id}").json()
        assert {"HoldFlag", "IBAN", "BankAccountHolderName"}.isdisjoint(item)
        refused = http.patch(f"{ROOT}/suppliers/{supplier_id}", json={"HoldFlag": True})
        assert refused.status_code == 400 and "HoldFlag" in refused.json()["title"]
    held = erp.run(op("supplier.block", FIRST, "hold", reason="tax audit"))
    (site,) = held.data["previous"]
    with sandbox.client() as http:
        sites = http.get(f"{ROOT}/suppliers/{supplier_id}/child/sites").json()["items"]
    assert [s["SupplierSiteId"] for s in sites] == [int(site)]
    assert sites[0]["HoldAllNewPurchasingDocumentsFlag"] is True
    record = erp.read_record("supplier", FIRST)
    assert record is not None and record.fields["blocked"] is True
    erp.run(op("supplier.unblock", FIRST, "hold:undo", result=held.model_dump(mode="json")))
    record = erp.read_record("supplier", FIRST)
    assert record is not None and record.fields["blocked"] is False

    changed = erp.run(
        op("supplier.update_bank_account", FIRST, "bank", iban="DE89370400440532013000")
    )
    record = erp.read_record("supplier", FIRST)
    assert record is not None and record.fields["iban"] == "DE89370400440532013000"
    assert set(changed.data["previous"]) == {"IBAN", "BankAccountName"}
    assert sandbox.admin.calls()["supplier.change_bank"] == 1


def test_an_address_is_created_with_its_country_code(sandbox: Sandbox) -> None:
    body = {"Supplier": "Nova Ltda", "addresses": [{"AddressName": "MAIN", "City": "Recife"}]}
    with sandbox.client() as http:
        refused = http.post(f"{ROOT}/suppliers", json=body)
    assert refused.status_code == 400 and "CountryCode" in refused.json()["title"]
    erp = sandbox.connector("oracle")
    created = erp.run(op("supplier.create_record", None, "new", name="Nova Ltda", city="Recife"))
    with sandbox.client() as http:
        item = http.get(f"{ROOT}/suppliers/{str(created.canonical_id).split(':')[1]}").json()
    assert item["addresses"][0]["CountryCode"] == "BR"


def _po_url(http: httpx.Client) -> str:
    """The order's URL as a client finds it: the self link of its row in the collection."""
    found = http.get(f"{ROOT}/purchaseOrders", params={"q": f"POHeaderId={ORDER.split(':')[1]}"})
    (item,) = found.json()["items"]
    (link,) = [link for link in item["links"] if link["rel"] == "self"]
    return str(link["href"])


def _make_pending(sandbox: Sandbox) -> None:
    """Reopen the order and put it back to pending approval, as a change order would."""
    _, filial, number = expected.purchase_order(1).native.split(":")
    for row in sandbox.admin.rows("SC7010", C7_FILIAL=filial, C7_NUM=number):
        sandbox.admin.change("SC7010", int(row["R_E_C_N_O_"]), C7_CONAPRO="B", C7_ENCER="")


def test_approving_resubmits_an_order_pending_approval_and_a_revocation_is_refused(
    sandbox: Sandbox,
) -> None:
    """Oracle publishes `submit` (with `bypassApprovalsFlag`), not `approve`/`revokeApproval`."""
    erp = sandbox.connector("oracle")
    _make_pending(sandbox)
    action = {"Content-Type": "application/vnd.oracle.adf.action+json"}
    with sandbox.client() as http:
        url = _po_url(http)
        for unpublished in ("approve", "revokeApproval"):
            answer = http.post(f"{url}/action/{unpublished}", json={}, headers=action)
            assert answer.status_code == 404
        routed = http.post(f"{url}/action/submit", json={}, headers=action)
        assert routed.status_code == 200  # without the bypass, the approvers take it
        assert http.get(url).json()["Status"] == "PENDING APPROVAL"
    approve = op("purchase_order.approve", ORDER, "approve")
    assert erp.evidence(approve) is None  # still pending: not approved
    erp.run(approve)
    with sandbox.client() as http:
        assert http.get(_po_url(http)).json()["Status"] == "OPEN"
    found = erp.evidence(approve)
    assert found is not None and "PENDING APPROVAL" in found.data["evidence"]
    with pytest.raises(ErpOperationFailed, match="only an order pending approval"):
        erp.run(op("purchase_order.approve", ORDER, "approve-again"))
    with pytest.raises(ErpUnsupported, match="no published action withdraws the approval"):
        erp.run(op("purchase_order.revoke_approval", ORDER, "revoke"))
    calls = sandbox.admin.calls()
    assert "purchase_order.revoke_approval" not in calls  # refused before anything was sent


def test_purchase_orders_are_addressed_by_the_servers_hash_key(sandbox: Sandbox) -> None:
    with sandbox.client() as http:
        assert http.get(f"{ROOT}/purchaseOrders/{ORDER.split(':')[1]}").status_code == 404
        url = _po_url(http)
        assert not url.endswith(ORDER.split(":")[1])
        assert http.get(url).json()["POHeaderId"] == int(ORDER.split(":")[1])


def test_close_names_its_close_action(sandbox: Sandbox) -> None:
    headers = {"Content-Type": "application/vnd.oracle.adf.action+json"}
    with sandbox.client() as http:
        path = f"{_po_url(http)}/action/close"
        refused = http.post(path, json={}, headers=headers)
        assert refused.status_code == 400 and "closeAction" in refused.json()["title"]
        done = http.post(path, json={"closeAction": "finallyClose"}, headers=headers)
        assert done.status_code == 200


def _dates(http: httpx.Client) -> list[str]:
    order = http.get(_po_url(http), params={"expand": "lines.schedules"}).json()
    return [s["RequestedDeliveryDate"] for line in order["lines"] for s in line["schedules"]]


def test_a_delivery_date_changes_by_a_change_order_in_force_only_once_submitted(
    sandbox: Sandbox,
) -> None:
    header = ORDER.split(":")[1]
    with sandbox.client() as http:
        before = _dates(http)
        (draft,) = http.get(
            f"{ROOT}/draftPurchaseOrders", params={"q": f"POHeaderId={header}"}
        ).json()["items"]
        base = draft["links"][0]["href"]
        line = http.get(f"{base}/child/lines").json()["items"][0]
        schedules = f"{base}/child/lines/{line['POLineId']}/child/schedules"
        schedule = http.get(schedules).json()["items"][0]["links"][0]["href"]
        change = {"RequestedDeliveryDate": "2026-07-15"}
        refused = http.patch(schedule, json=change)  # no change order open yet
        assert (
            refused.status_code == 400 and "ChangeOrderInitiatingParty" in refused.json()["title"]
        )
        opened = http.patch(base, json={"ChangeOrderInitiatingParty": "Buyer"})
        assert opened.status_code == 200 and opened.json()["ChangeOrderStatus"] == "INCOMPLETE"
        assert http.patch(schedule, json=change).status_code == 200
        assert http.get(schedules).json()["items"][0]["RequestedDeliveryDate"] == "2026-07-15"
        assert _dates(http) == before  # a draft is not in force
        action = {"Content-Type": "application/vnd.oracle.adf.action+json"}
        submitted = http.post(
            f"{base}/action/submit", json={"bypassApprovalsFlag": True}, headers=action
        )
        assert submitted.status_code == 200
        assert _dates(http) == ["2026-07-15", *before[1:]]
        again = http.post(f"{base}/action/submit", json={}, headers=action)
        assert again.status_code == 400  # nothing left to submit


def test_the_connector_moves_every_schedule_through_one_change_order(sandbox: Sandbox) -> None:
    erp = sandbox.connector("oracle")
    moved = erp.run(
        op("purchase_order.update_delivery_date", ORDER, "mv", delivery_date="2026-08-01")
    )
    with sandbox.client() as http:
        dates = _dates(http)
    assert set(dates) == {"2026-08-01"} and len(moved.data["previous"]) == len(dates)
    keys = sandbox.admin.keys()
    assert keys[0] == "mv@open" and keys[-1] == "mv@submit"
    assert len(keys) == len(dates) + 2  # open, one PATCH per schedule, submit
    looked_up = erp.lookup("mv@submit")  # the submit recorded what it replaced
    assert looked_up is not None and looked_up.data["previous"] == moved.data["previous"]


def _draft_urls(http: httpx.Client) -> tuple[str, str]:
    """The draft's URL and its first schedule's, as a client finds them."""
    header = ORDER.split(":")[1]
    found = http.get(f"{ROOT}/draftPurchaseOrders", params={"q": f"POHeaderId={header}"})
    base = str(found.json()["items"][0]["links"][0]["href"])
    line = http.get(f"{base}/child/lines").json()["items"][0]
    schedules = http.get(f"{base}/child/lines/{line['POLineId']}/child/schedules").json()
    return base, str(schedules["items"][0]["links"][0]["href"])


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        pytest.param(
            "PATCH",
            "suppliers/{supplier}",
            {"InactiveDate": None, "IBAN": "DE89370400440532013000"},
            "IBAN: the attribute does not exist on Suppliers",
            id="bank-on-supplier",
        ),
        pytest.param(
            "PATCH",
            "suppliers/{supplier}",
            {"SupplierNumber": "999"},
            "SupplierNumber: the attribute is not updatable on Suppliers",
            id="read-only-number",
        ),
        pytest.param(
            "PATCH",
            "suppliers/{supplier}/child/sites/{site}",
            {"HoldFlag": True},
            "HoldFlag: the attribute does not exist on Suppliers/Sites",
            id="unknown-hold",
        ),
        pytest.param(
            "PATCH",
            "externalBankAccounts/{bank}",
            {"BankAccountHolderName": "Someone"},
            "BankAccountHolderName: the attribute does not exist on External Bank Accounts",
            id="sap-holder-name",
        ),
        pytest.param(
            "PATCH",
            "externalBankAccounts/{bank}",
            {"CountryCode": "DE"},
            "CountryCode: the attribute is not updatable on External Bank Accounts",
            id="country-create-only",
        ),
        pytest.param(
            "POST",
            "suppliers",
            {"Supplier": "Nova", "addresses": [{"CountryCode": "BR", "Country": "Brazil"}]},
            "addresses: Country: the attribute is not creatable on Suppliers/Addresses",
            id="address-display-country",
        ),
        pytest.param(
            "PATCH",
            "{draft}",
            {"ChangeOrderInitiatingParty": "Buyer", "ChangeOrderStatus": "APPROVED"},
            "ChangeOrderStatus: the attribute is not updatable on Draft Purchase Orders",
            id="draft-status",
        ),
        pytest.param(
            "PATCH",
            "{schedule}",
            {"RequestedDeliveryDate": "2026-07-15", "DeliveryDate": "2026-07-15"},
            "DeliveryDate: the attribute does not exist on Draft Purchase Orders/Lines/Schedules",
            id="unknown-schedule-date",
        ),
        pytest.param(
            "POST",
            "{order}/action/close",
            {"closeAction": "close", "bypassApprovalsFlag": True},
            "bypassApprovalsFlag: the attribute does not exist on Close one purchase order",
            id="close-payload",
        ),
    ],
)
def test_writes_the_reference_does_not_allow_are_refused(
    sandbox: Sandbox, method: str, path: str, body: dict[str, Any], message: str
) -> None:
    supplier = int(FIRST.split(":")[1])
    with sandbox.client() as http:
        draft, schedule = _draft_urls(http)
        url = path.format(
            supplier=supplier,
            site=supplier * 10 + 2,
            bank=supplier * 10 + 3,
            draft=draft,
            schedule=schedule,
            order=_po_url(http),
        )
        headers = (
            {"Content-Type": "application/vnd.oracle.adf.action+json"} if "action" in url else {}
        )
        refused = http.request(
            method, url if "://" in url else f"{ROOT}/{url}", json=body, headers=headers
        )
    assert refused.status_code == 400
    assert message in refused.json()["title"]
    assert sandbox.admin.keys() == []


def test_what_oracle_allows_but_the_sandbox_does_not_model_is_refused_as_such(
    sandbox: Sandbox,
) -> None:
    oracle_schema.check("suppliers", {"AlternateName": "Nova"}, creating=False)
    supplier = FIRST.split(":")[1]
    with sandbox.client() as http:
        refused = http.patch(f"{ROOT}/suppliers/{supplier}", json={"AlternateName": "Nova"})
    assert refused.status_code == 400
    assert "the sandbox changes only InactiveDate on suppliers" in refused.json()["title"]


def test_the_connector_checks_every_write_against_the_reference_before_sending(
    sandbox: Sandbox,
) -> None:
    erp = sandbox.connector("oracle")
    before = sandbox.admin.calls()
    # A restore whose recorded values name SAP's attribute, not Oracle's: refused unsent.
    done = result("bank", "supplier.update_bank_account", None,
                  {"previous": {"BankAccountHolderName": "Old Holder"}})  # fmt: skip
    restore = op("supplier.restore_bank_account", FIRST, "bank:undo",
                 result=done.model_dump(mode="json"))  # fmt: skip
    with pytest.raises(ErpOperationFailed, match="BankAccountHolderName: the attribute does not"):
        erp.run(restore)
    assert sandbox.admin.calls() == before  # not even read: checked first

    site = str(int(FIRST.split(":")[1]) * 10 + 2)
    held = result("hold", "supplier.block", None, {"previous": {site: {"HoldFlag": False}}})
    unblock = op("supplier.unblock", FIRST, "hold:undo", result=held.model_dump(mode="json"))
    with pytest.raises(ErpOperationFailed, match="HoldFlag: the attribute does not exist"):
        erp.run(unblock)
    calls = sandbox.admin.calls()
    assert calls.get("supplier.change") == before.get("supplier.change")  # no PATCH sent
    assert sandbox.admin.keys() == []


def test_the_written_down_reference_refuses_what_oracle_does() -> None:
    oracle_schema.check(
        "suppliers",
        {"Supplier": "Nova", "addresses": [{"AddressName": "MAIN", "CountryCode": "BR"}]},
        creating=True,
    )
    with pytest.raises(oracle_schema.MetadataError, match="CountryCode: the attribute is required"):
        oracle_schema.check("suppliers", {"Supplier": "N", "addresses": [{}]}, creating=True)
    with pytest.raises(oracle_schema.MetadataError, match="child resource cannot be changed"):
        oracle_schema.check("suppliers", {"sites": []}, creating=False)
    with pytest.raises(oracle_schema.MetadataError, match="closeAction: the attribute is required"):
        oracle_schema.check("purchaseOrders/action/close", {}, creating=True)
    with pytest.raises(oracle_schema.MetadataError, match="closeAction: one of"):
        oracle_schema.check("purchaseOrders/action/close", {"closeAction": "shut"}, creating=True)
    with pytest.raises(oracle_schema.MetadataError, match="StatusTypeCd: the attribute is not"):
        oracle_schema.check("serviceRequests", {"StatusTypeCd": "ORA_SVC_CLOSED"}, creating=False)
