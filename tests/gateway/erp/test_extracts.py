"""`fetch_extracts`: an ERP's master read page by page through its connector into extract CSVs."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.erp import ProtheusConnector, fetch_extracts
from gateway.errors import ErpError, ErpOperationFailed, ErpUnavailable, ErpUnsupported
from resolver import load_profile
from resolver.extracts import canonical_ids, read_extract
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox

PROFILES = Path(__file__).resolve().parents[3] / "config" / "profiles"


@pytest.mark.parametrize("kind", ["protheus", "sap", "oracle"])
def test_every_readable_type_is_written_whole_and_the_profile_names_only_those(
    sandbox: Sandbox, kind: str, tmp_path: Path
) -> None:
    seen: list[tuple[str, int, int]] = []
    fetched = fetch_extracts(
        sandbox.connector(kind),
        PROFILES / f"{kind}.yaml",
        tmp_path / "x",
        page_size=100,
        progress=lambda *tick: seen.append(tick),
    )
    suppliers = len(expected.live("SA2010"))
    assert fetched.rows["supplier"] == suppliers
    ticks = [(rows, pages) for name, rows, pages in seen if name == "supplier"]
    assert ticks == [(min(100 * n, suppliers), n) for n in range(1, -(-suppliers // 100) + 1)]
    profile = load_profile(fetched.profile)
    assert set(profile.entity_types) == set(fetched.rows)
    assert set(fetched.rows) | set(fetched.skipped) == set(
        load_profile(PROFILES / f"{kind}.yaml").entity_types
    )
    spec = profile.entity_types["supplier"]
    ids = canonical_ids(read_extract(fetched.folder / f"{spec.table}.csv", spec), spec)
    first = expected.first_supplier().native
    assert len(ids) == suppliers and expected.ids(kind, "supplier", first) in set(ids)
    if kind == "protheus":  # no REST extract of employees and contacts: named, left out
        assert set(fetched.skipped) == {"employee", "contact"}
        assert "declares no source for employee" in fetched.skipped["employee"]
        # the employee-supplier control went with the employees; orders to suppliers stayed
        assert profile.quality.cross_entity == []
        assert [(r.records, r.refer_to) for r in profile.quality.references] == [
            ("purchase_order", "supplier")
        ]


def test_an_unreachable_erp_stops_the_fetch(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    erp = ProtheusConnector(url, username=USER, password=PASSWORD, timeout=2)
    with pytest.raises(ErpUnavailable, match="ConnectError"):
        fetch_extracts(erp, PROFILES / "protheus.yaml", tmp_path / "x")
    assert list((tmp_path / "x").iterdir()) == []


def test_refused_credentials_stop_the_fetch(sandbox: Sandbox, tmp_path: Path) -> None:
    erp = ProtheusConnector(
        sandbox.url, username=USER, password="wrong", transport=sandbox.transport
    )
    with pytest.raises(ErpOperationFailed, match="401"):
        fetch_extracts(erp, PROFILES / "protheus.yaml", tmp_path / "x")


def test_a_profile_of_types_the_connector_cannot_read_is_refused(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    document = yaml.safe_load((PROFILES / "protheus.yaml").read_text(encoding="utf-8"))
    document["entity_types"] = {"employee": document["entity_types"]["employee"]}
    del document["quality"]  # its control checks employees against suppliers
    profile = tmp_path / "employees.yaml"
    profile.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ErpOperationFailed, match="none of the profile's types"):
        fetch_extracts(sandbox.connector("protheus"), profile, tmp_path / "x")


#: An entity type no code names, declared in a copy of each shipped profile over an ERP object
#: its connector reads: the suppliers, keyed and named as the supplier block has them.
VENDOR_SOURCE = {
    "protheus": {"resource": "suppliers"},
    "sap": {
        "service": "API_BUSINESS_PARTNER",
        "entity_set": "A_BusinessPartner",
        "filter": "Supplier ne ''",
    },
    "oracle": {"resource": "suppliers", "expand": "addresses,sites"},
}


def _profile_with(tmp_path: Path, kind: str, name: str, block: dict[str, Any]) -> Path:
    document = yaml.safe_load((PROFILES / f"{kind}.yaml").read_text(encoding="utf-8"))
    document["entity_types"][name] = block
    path = tmp_path / f"{kind}-{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["protheus", "sap", "oracle"])
def test_an_entity_type_only_the_profile_names_is_read_through_the_connector(
    sandbox: Sandbox, kind: str, tmp_path: Path
) -> None:
    shipped = yaml.safe_load((PROFILES / f"{kind}.yaml").read_text(encoding="utf-8"))
    vendor = {**shipped["entity_types"]["supplier"], "source": VENDOR_SOURCE[kind], "table": "V"}
    profile = _profile_with(tmp_path, kind, "vendor", vendor)
    fetched = fetch_extracts(sandbox.connector(kind), profile, tmp_path / "x", page_size=200)
    suppliers = len(expected.live("SA2010"))
    assert fetched.rows["vendor"] == fetched.rows["supplier"] == suppliers
    spec = load_profile(fetched.profile).entity_types["vendor"]
    ids = canonical_ids(read_extract(fetched.folder / "V.csv", spec), spec)
    first = expected.ids(kind, "supplier", expected.first_supplier().native)
    assert ids.is_unique and first in set(ids)


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        pytest.param(
            None,
            ErpUnsupported,
            "Oracle: the profile declares no source for vendor (where the ERP keeps its "
            "records: resource)",
            id="none",
        ),
        pytest.param(
            {"table": "suppliers"},
            ErpError,
            "Oracle: the profile's source of vendor lacks resource and has unknown table (a "
            "Oracle source has resource, expand (optional), api (optional))",
            id="mistyped",
        ),
        pytest.param(
            {"resource": "serviceRequests", "api": "hcm"},
            ErpError,
            "Oracle: the profile's source of vendor names api 'hcm' (known: fscm, crm)",
            id="unknown-api",
        ),
    ],
)
def test_a_source_the_connector_cannot_read_says_what_it_needs(
    sandbox: Sandbox, source: dict[str, str] | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        next(sandbox.connector("oracle").extract("vendor", source))
    assert str(info.value) == message


def test_service_requests_are_read_where_the_profile_says(sandbox: Sandbox) -> None:
    """Oracle's tickets: another API (`api: crm`), ids in the profile's form, for drills."""
    profile = load_profile(PROFILES / "oracle.yaml")
    rows = [r for p in sandbox.connector("oracle").extract("ticket", profile.source("ticket"))
            for r in p]  # fmt: skip
    assert rows and all(r["SrNumber"] for r in rows)
    assert "canonical_id" not in rows[0]  # the profile gives the id form, not the connector
    ids = {profile.id_template("ticket").format(SRNUMBER=r["SrNumber"]) for r in rows}
    assert len(ids) == len(rows) and all(i.startswith("ServiceRequest:") for i in ids)


@pytest.mark.parametrize("kind", ["protheus", "sap", "oracle"])
def test_a_connector_reads_records_of_the_entity_types_its_profile_declares(
    sandbox: Sandbox, kind: str, tmp_path: Path
) -> None:
    """Reading a record goes by where the profile keeps its entity type, as extracting does:
    the new type reads as the supplier it is kept with; one the profile lacks reads nothing."""
    shipped = yaml.safe_load((PROFILES / f"{kind}.yaml").read_text(encoding="utf-8"))
    vendor = {**shipped["entity_types"]["supplier"], "source": VENDOR_SOURCE[kind], "table": "V"}
    erp = sandbox.connector(kind)
    erp.profile = load_profile(_profile_with(tmp_path, kind, "vendor", vendor))
    first = expected.ids(kind, "supplier", expected.first_supplier().native)
    supplier, vendor_record = erp.read_record("supplier", first), erp.read_record("vendor", first)
    assert supplier is not None and vendor_record is not None
    assert vendor_record.entity_type == "vendor" and vendor_record.fields == supplier.fields
    assert erp.read_record("widget", first) is None
