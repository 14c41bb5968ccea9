"""Protheus specifics: base64 primary keys at the installation's filial width, basic auth and
the OAuth2 password grant."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.erp.protheus import (
    STANDARD_BANK_FIELDS,
    ProtheusConnector,
    bank_fields,
    pk_decode,
    pk_encode,
)
from gateway.errors import ErpOperationFailed
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox
from tests.gateway.erp.test_connectors import op, undo

code = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6)


@given(filial=st.sampled_from(["", "01", "02"]), cod=code, loja=st.sampled_from(["01", "A"]))
def test_primary_keys_round_trip(filial: str, cod: str, loja: str) -> None:
    canonical_id = f"SA2:{filial}:{cod}:{loja}"
    encoded = pk_encode(canonical_id)
    assert "/" not in encoded and "=" not in encoded
    assert pk_decode("SA2", encoded) == canonical_id


@given(filial=st.sampled_from(["", "01", "D MG 01"]), cod=code, loja=st.sampled_from(["01", "A"]))
def test_primary_keys_round_trip_at_the_installations_filial_width(
    filial: str, cod: str, loja: str
) -> None:
    canonical_id = f"SA2:{filial}:{cod}:{loja}"
    encoded = pk_encode(canonical_id, filial_width=8)
    assert pk_decode("SA2", encoded, filial_width=8) == canonical_id
    with pytest.raises(ValueError, match="not a primary key of SA2"):
        pk_decode("SA2", encoded)  # read at another width, it is no key of this system


def test_a_filial_wider_than_the_installations_is_refused() -> None:
    with pytest.raises(ValueError, match="wider than"):
        pk_encode("SA2:D MG 01:000001:01")


def test_the_connector_and_the_erp_agree_on_an_8_character_filial(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "erp", filial_width=8, network=False) as erp:
        wide = erp.connector("protheus", filial_width=8)
        record = wide.read_record("supplier", "SA2::000001:01")
        assert record is not None and record.canonical_id == "SA2::000001:01"
        narrow = erp.connector("protheus")  # a 2-character filial: not this system's keys
        assert narrow.read_record("supplier", "SA2::000001:01") is None
        wide.run(op("supplier.block", "SA2::000001:01", "wide-block", reason="audit"))
        (row,) = erp.admin.rows("SA2010", A2_COD="000001", A2_LOJA="01")
        assert row["A2_MSBLQL"] == "1"


@pytest.mark.parametrize(
    "bad", [pytest.param("SA2:01:1", id="too-few-fields"), pytest.param("XYZ:1", id="other-table")]
)
def test_ids_of_other_shapes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Protheus id"):
        pk_encode(bad)


def test_oauth2_fetches_a_token_once_and_again_after_a_401(sandbox: Sandbox) -> None:
    erp = sandbox.connector("protheus", auth="oauth2")
    assert erp.read_record("supplier", "SA2::000001:01") is not None
    tokens = sandbox.app.state.sandbox.credentials.tokens
    assert len(tokens) == 2  # access and refresh token of one grant
    tokens.clear()  # the server forgets them, as after a restart
    assert erp.read_record("supplier", "SA2::000002:01") is not None
    assert len(tokens) == 2


def test_the_token_endpoint_speaks_the_password_grant(sandbox: Sandbox) -> None:
    url = "/rest/api/oauth2/v1/token"
    with sandbox.client(auth=None) as http:
        granted = http.post(
            url, params={"grant_type": "password", "username": USER, "password": PASSWORD}
        )
        assert granted.status_code == 201
        body = granted.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        refreshed = http.post(
            url, params={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        )
        assert refreshed.status_code == 201
        refused = http.post(
            url, params={"grant_type": "password", "username": USER, "password": "wrong"}
        )
    assert refused.status_code == 401 and refused.json()["code"] == 401


@pytest.mark.parametrize("auth", ["basic", "oauth2"])
def test_wrong_credentials_are_a_refusal(sandbox: Sandbox, auth: str) -> None:
    erp = ProtheusConnector(
        sandbox.url,
        username=USER,
        password="wrong",
        auth=auth,  # type: ignore[arg-type]
        transport=sandbox.transport,
    )
    with pytest.raises(ErpOperationFailed, match="401"):
        erp.read_record("supplier", "SA2::000001:01")


def test_lists_use_page_and_page_size_with_has_next(sandbox: Sandbox) -> None:
    url = "/rest/api/canon/v1/suppliers"
    suppliers = expected.live("SA2010")  # the list leaves soft-deleted rows out
    pages = -(-len(suppliers) // 100)
    with sandbox.client() as http:
        last = http.get(url, params={"page": pages, "pageSize": 100}).json()
        first = http.get(url, params={"page": 1, "pageSize": 100}).json()
    assert (len(last["items"]), last["hasNext"]) == (len(suppliers) - 100 * (pages - 1), False)
    assert first["hasNext"] is True and first["items"][0]["A2_COD"] == suppliers[0]["A2_COD"]
    assert "D_E_L_E_T_" in first["items"][0] and "R_E_C_N_O_" in first["items"][0]


def test_purchase_order_changes_go_through_mata120_fields(sandbox: Sandbox) -> None:
    erp = sandbox.connector("protheus")

    approved = erp.run(op("purchase_order.approve", "SC7:01:000002", "a"))
    items = sandbox.admin.rows("SC7010", C7_FILIAL="01", C7_NUM="000002")
    assert {i["C7_CONAPRO"] for i in items} == {"L"}
    closed = erp.run(op("purchase_order.close", "SC7:01:000002", "c"))
    assert {
        i["C7_ENCER"] for i in sandbox.admin.rows("SC7010", C7_NUM="000002", C7_FILIAL="01")
    } == {"E"}
    erp.run(undo("purchase_order.reopen", "SC7:01:000002", "c:undo", closed))
    erp.run(undo("purchase_order.revoke_approval", "SC7:01:000002", "a:undo", approved))
    items = sandbox.admin.rows("SC7010", C7_FILIAL="01", C7_NUM="000002")
    assert {(i["C7_CONAPRO"], i["C7_ENCER"]) for i in items} == {
        (approved.data["previous"]["C7_CONAPRO"], closed.data["previous"]["C7_ENCER"])
    }


BRAZILIAN = {"bank_code": "341", "branch": "0001", "account_number": "123456"}
FOREIGN = {"iban": "CH9300762011623852957", "account_holder": "Auto Pecas AG"}
CUSTOM = "iban=A2_XIBAN,account_holder=A2_XTITULA"


def test_bank_fields_are_standard_or_declared() -> None:
    assert bank_fields("standard") == STANDARD_BANK_FIELDS
    assert bank_fields(CUSTOM) == {"iban": "A2_XIBAN", "account_holder": "A2_XTITULA"}
    both = bank_fields(f"standard,{CUSTOM}")
    assert set(both) == {*BRAZILIAN, *FOREIGN}
    for bad in ("", "iban", "swift=A2_XSWIFT", "iban=B1_XIBAN", "iban=A2_X,account_holder=A2_X"):
        with pytest.raises(ValueError):
            bank_fields(bad)


@pytest.mark.parametrize(
    ("declared", "given", "columns"),
    [
        pytest.param(
            "standard",
            BRAZILIAN,
            {"A2_BANCO": "341", "A2_AGENCIA": "0001", "A2_NUMCON": "123456"},
            id="standard-fields",
        ),
        pytest.param(
            CUSTOM,
            FOREIGN,
            {"A2_XIBAN": "CH9300762011623852957", "A2_XTITULA": "Auto Pecas AG"},
            id="declared-custom-fields",
        ),
    ],
)
def test_a_bank_account_changes_and_is_restored_in_the_fields_the_installation_keeps(
    sandbox: Sandbox, declared: str, given: dict[str, str], columns: dict[str, str]
) -> None:
    erp = sandbox.connector("protheus", bank=bank_fields(declared))
    supplier = "SA2::000001:01"
    (before,) = sandbox.admin.rows("SA2010", A2_COD="000001", A2_LOJA="01")
    changed = erp.run(op("supplier.update_bank_account", supplier, "bank", **given))
    (row,) = sandbox.admin.rows("SA2010", A2_COD="000001", A2_LOJA="01")
    assert {k: row[k] for k in columns} == columns
    record = erp.read_record("supplier", supplier)
    assert record is not None and {k: record.fields[k] for k in given} == given
    assert not set(record.fields) & ({*BRAZILIAN, *FOREIGN} - set(given))  # not kept: unknown
    assert changed.data["previous"] == {k: before[k] for k in columns}
    erp.run(undo("supplier.restore_bank_account", supplier, "bank:undo", changed))
    (row,) = sandbox.admin.rows("SA2010", A2_COD="000001", A2_LOJA="01")
    assert {k: row[k] for k in columns} == {k: before[k] for k in columns}


def test_an_account_without_the_fields_the_installation_keeps_is_refused(
    sandbox: Sandbox,
) -> None:
    erp = sandbox.connector("protheus")  # the standard fields: bank, branch, account
    with pytest.raises(ErpOperationFailed, match="A2_BANCO.*give bank_code, branch"):
        erp.run(op("supplier.update_bank_account", "SA2::000001:01", "iban-only", **FOREIGN))
    assert sandbox.admin.keys() == []
