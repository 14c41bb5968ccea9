"""The registry of ERP kinds: each shipped kind is one connector class, built from settings-like
values by the class itself; a name is registered once; an unknown kind names the known ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.erp import LocalLedgerConnector, OracleConnector, ProtheusConnector, SapConnector
from gateway.erp.registry import UnknownErpKind, kind, kinds, register


@dataclass(frozen=True)
class Plain:
    """Settings as plain values: what a connector reads, without `api.settings`."""

    ledger_file: Path
    erp_url: str = "http://127.0.0.1:9"
    erp_username: str = "canon"
    erp_password: SecretStr = SecretStr("pw")
    erp_timeout_seconds: float = 3.0
    erp_lookup_service: str = "absent"
    erp_auth: str = "basic"
    erp_protheus_filial_width: int = 8
    erp_protheus_bank_fields: str = "iban=A2_XIBAN"
    erp_sap_grouping: str | None = "BP02"
    erp_sap_block_field: str = "PostingIsBlocked"


def test_the_shipped_kinds_are_their_connector_classes() -> None:
    assert kinds() == ("ledger", "oracle", "protheus", "sap")
    assert kinds(remote=True) == ("oracle", "protheus", "sap")
    classes = {name: kind(name).connector for name in kinds()}
    assert classes == {"ledger": LocalLedgerConnector, "oracle": OracleConnector,
                       "protheus": ProtheusConnector, "sap": SapConnector}  # fmt: skip


def test_each_connector_is_built_from_the_settings_it_names(tmp_path: Path) -> None:
    plain = Plain(ledger_file=tmp_path / "ledger.sqlite")
    ledger = kind("ledger").build(plain)
    assert isinstance(ledger, LocalLedgerConnector) and ledger.path == plain.ledger_file
    protheus = kind("protheus").build(plain)
    assert isinstance(protheus, ProtheusConnector)
    assert (protheus.filial_width, protheus.bank, protheus.lookup_service) == (
        8, {"iban": "A2_XIBAN"}, False,
    )  # fmt: skip
    sap = kind("sap").build(plain)
    assert isinstance(sap, SapConnector)
    assert (sap.grouping, sap.block_field, sap.lookup_service) == (
        "BP02",
        "PostingIsBlocked",
        False,
    )
    oracle = kind("oracle").build(plain)
    assert isinstance(oracle, OracleConnector) and oracle.lookup_service is False
    assert str(oracle.http.client.base_url) == "http://127.0.0.1:9"


def test_a_kind_is_registered_once_and_an_unknown_one_names_the_known() -> None:
    with pytest.raises(ValueError, match="ERP kind 'sap' is already SapConnector"):
        register("sap")(OracleConnector)
    register("sap")(SapConnector)  # the same class again changes nothing
    assert kind("sap").connector is SapConnector
    with pytest.raises(UnknownErpKind) as refused:
        kind("cobol")
    assert str(refused.value) == (
        "unknown ERP kind 'cobol': the known kinds are ledger, oracle, protheus, sap"
    )
