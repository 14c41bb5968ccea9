"""Connector options are serve settings: whether Canon's look-up by key is installed (probed,
or as configured), and SAP's supplier block and business-partner grouping; checked against the
sandbox ERP over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.app import build_connector
from api.settings import Settings
from gateway.erp import SapConnector
from gateway.errors import ErpLookupMissing
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox
from tests.gateway.erp.test_connectors import op

SAP_SUPPLIER = expected.ids("sap", "supplier", expected.party_id("SA2", expected.live("SA2010")[0]))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("erp")) as running:
        yield running


def _settings(tmp_path: Path, sandbox: Sandbox, kind: str, **options: object) -> Settings:
    return Settings(
        workdir=tmp_path,
        erp_kind=kind,
        erp_url=sandbox.url,
        erp_username=USER,
        erp_password=SecretStr(PASSWORD),
        **options,  # type: ignore[arg-type]
    )


def _asked(sandbox: Sandbox) -> int:
    calls = sandbox.admin.calls()
    return calls.get("operation.probe", 0) + calls.get("operation.lookup", 0)


@pytest.mark.parametrize("kind", ["protheus", "sap", "oracle"])
def test_a_lookup_service_configured_absent_is_never_asked(
    tmp_path: Path, sandbox: Sandbox, kind: str
) -> None:
    """The sandbox has the service; configured absent, the connector reads evidence instead."""
    before = _asked(sandbox)
    absent = build_connector(_settings(tmp_path, sandbox, kind, erp_lookup_service="absent"))
    with pytest.raises(ErpLookupMissing):
        absent.lookup("never-written")
    assert _asked(sandbox) == before
    probed = build_connector(_settings(tmp_path, sandbox, kind))
    assert probed.lookup("never-written") is None  # probed, found installed, asked
    asked = _asked(sandbox)
    assert asked > before
    installed = build_connector(_settings(tmp_path, sandbox, kind, erp_lookup_service="installed"))
    assert installed.lookup("never-written") is None
    assert _asked(sandbox) > asked


def test_sap_block_field_and_grouping_come_from_the_settings(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    settings = _settings(
        tmp_path,
        sandbox,
        "sap",
        erp_sap_block_field="PurchasingIsBlocked",
        erp_sap_grouping="BP02",
    )
    erp = build_connector(settings)
    assert isinstance(erp, SapConnector) and erp.grouping == "BP02"
    blocked = erp.run(op("supplier.block", SAP_SUPPLIER, "settings-block", reason="audit"))
    assert blocked.data["previous"] == {"PurchasingIsBlocked": False}
    with pytest.raises(ValidationError, match="erp_sap_block_field"):
        _settings(tmp_path, sandbox, "sap", erp_sap_block_field="FLVN")
    with pytest.raises(ValidationError, match="erp_lookup_service"):
        _settings(tmp_path, sandbox, "sap", erp_lookup_service="maybe")


def test_the_protheus_filial_width_comes_from_the_settings(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "wide", filial_width=8) as wide:
        settings = _settings(tmp_path, wide, "protheus", erp_protheus_filial_width=8)
        erp = build_connector(settings)
        assert erp.read_record("supplier", "SA2::000001:01") is not None
        default = build_connector(_settings(tmp_path, wide, "protheus"))
        assert default.read_record("supplier", "SA2::000001:01") is None


def test_the_protheus_bank_fields_are_the_installations_declaration(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    custom = "iban=A2_XIBAN,account_holder=A2_XTITULA"
    erp = build_connector(_settings(tmp_path, sandbox, "protheus", erp_protheus_bank_fields=custom))
    account = {"iban": "CH9300762011623852957", "account_holder": "Auto Pecas AG"}
    erp.run(op("supplier.update_bank_account", "SA2::000002:01", "declared", **account))
    (row,) = sandbox.admin.rows("SA2010", A2_COD="000002", A2_LOJA="01")
    assert (row["A2_XIBAN"], row["A2_XTITULA"]) == tuple(account.values())
    standard = build_connector(_settings(tmp_path, sandbox, "protheus"))
    record = standard.read_record("supplier", "SA2::000002:01")
    assert record is not None and "iban" not in record.fields and "bank_code" in record.fields
    with pytest.raises(ValidationError, match="erp_protheus_bank_fields"):
        _settings(tmp_path, sandbox, "protheus", erp_protheus_bank_fields="iban=SWIFT")
