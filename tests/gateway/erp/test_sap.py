"""SAP specifics: CSRF tokens, ETags (428 without, 412 when stale: a conflict, never retried),
OData v2 envelopes and `__next` paging."""

from __future__ import annotations

import threading

import httpx
import pytest

from gateway.erp import SapConnector
from gateway.errors import ErpConflict
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox
from tests.gateway.erp.test_connectors import op

SUPPLIERS = expected.live("SA2010")
FIRST, SECOND = (
    expected.ids("sap", "supplier", expected.party_id("SA2", row)) for row in SUPPLIERS[:2]
)
BP_URL = f"/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner('{FIRST.split(':')[1]}')"


def _client(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, auth=(USER, PASSWORD), timeout=10)


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
    erp = SapConnector(sandbox.url, username=USER, password=PASSWORD)
    erp.run(op("supplier.block", FIRST, "b1"))
    sandbox.app.state.sandbox.credentials.csrf.clear()
    erp.run(op("supplier.block", SECOND, "b2"))
    assert sandbox.admin.keys() == ["b1", "b2"]


def test_a_record_changed_between_read_and_write_is_a_conflict_sent_once(
    sandbox: Sandbox,
) -> None:
    erp = SapConnector(sandbox.url, username=USER, password=PASSWORD)
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
    SapConnector(sandbox.url, username=USER, password=PASSWORD).run(
        op("supplier.block", FIRST, "someone-else")
    )
    sandbox.admin.release(held["id"])
    thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], ErpConflict)
    assert "412" in str(outcome[0])
    assert sandbox.admin.keys() == ["someone-else"]
    assert sandbox.admin.calls()["supplier.change"] == 2


def test_collections_wrap_results_and_page_with_next(sandbox: Sandbox) -> None:
    with _client(sandbox) as http:
        page = http.get(
            "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner",
            params={"$top": 200, "$filter": "BusinessPartnerGrouping eq 'FLVN'"},
        ).json()
        assert len(page["d"]["results"]) == 200
        assert httpx.URL(page["d"]["__next"]).params["$skip"] == "200"
        last = http.get(page["d"]["__next"]).json()
        assert len(last["d"]["results"]) == len(SUPPLIERS) - 200 and "__next" not in last["d"]
        entity = last["d"]["results"][0]
        assert entity["__metadata"]["type"] == "API_BUSINESS_PARTNER.A_BusinessPartnerType"
        assert "__deferred" not in str(entity) and "to_BusinessPartnerTax" not in entity


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("A_BusinessPartner('1799999999')", 404, id="unknown-partner"),
        pytest.param("A_BusinessPartner?$filter=Foo gt 1", 400, id="unsupported-filter"),
    ],
)
def test_errors_are_odata_errors(sandbox: Sandbox, path: str, status: int) -> None:
    with _client(sandbox) as http:
        response = http.get(f"/sap/opu/odata/sap/API_BUSINESS_PARTNER/{path}")
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message"}
