"""What the connector tests expect, read with the csv module from the fixture tables the sandbox
loads (`data/*.csv`), never written down by hand: a change to the fixture changes the
expectations with it, and a test still checks each connector's mapping of Protheus fields.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sandbox.erp.backend.tables import ID_BASES
from tests.gateway.erp.sandbox import FIXTURE_DATA

#: Protheus's currencies by `C7_MOEDA` (MV_MOEDA1..5), as ISO codes where they have one.
MOEDAS = {"1": "BRL", "2": "USD", "3": "UFIR", "4": "EUR", "5": "JPY"}
#: The sandbox expects delivery this long after issue when a purchase order has no C7_DATPRF.
DEFAULT_LEAD_TIME = timedelta(days=30)


@cache
def rows(table: str) -> tuple[dict[str, str], ...]:
    """Every row of a fixture table (deleted ones too), in R_E_C_N_O_ order."""
    with (FIXTURE_DATA / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
        return tuple(sorted(csv.DictReader(fh), key=lambda r: int(r["R_E_C_N_O_"])))


def live(table: str) -> list[dict[str, str]]:
    """The rows not soft-deleted (`D_E_L_E_T_` is not `*`)."""
    return [r for r in rows(table) if r["D_E_L_E_T_"].strip() != "*"]


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def iso(yyyymmdd: str) -> str:
    return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])).isoformat()


def party_id(prefix: str, row: dict[str, str]) -> str:
    """`SA2:{A2_FILIAL}:{A2_COD}:{A2_LOJA}` of an SA2 (or SA1) row."""
    p = prefix[1:]
    return f"{prefix}:{row[f'{p}_FILIAL']}:{row[f'{p}_COD']}:{row[f'{p}_LOJA']}"


def _po_numbers() -> list[tuple[str, str]]:
    """(C7_FILIAL, C7_NUM) of every purchase order, in the order of its first item."""
    seen: dict[tuple[str, str], None] = {}
    for row in rows("SC7010"):
        seen.setdefault((row["C7_FILIAL"], row["C7_NUM"]), None)
    return list(seen)


def ids(kind: str, entity_type: str, native: str) -> str:
    """The id the sandbox shows for a record in each wire format: the n-th record of a kind
    (in R_E_C_N_O_ order, deleted ones too) is the kind's base id + n in SAP and Oracle."""
    if kind == "protheus":
        return native
    if entity_type == "purchase_order":
        natives = [f"SC7:{f}:{n}" for f, n in _po_numbers()]
        label = "PurchaseOrder"
    else:
        prefix = "SA2" if entity_type == "supplier" else "SA1"
        natives = [party_id(prefix, r) for r in rows(f"{prefix}010")]
        label = "BusinessPartner" if kind == "sap" else "Supplier"
    sap_base, oracle_base = ID_BASES[entity_type]
    number = (sap_base if kind == "sap" else oracle_base) + natives.index(native) + 1
    return f"{label}:{number}"


@dataclass(frozen=True)
class Supplier:
    native: str
    name: str
    tax_id: str  # digits only


@dataclass(frozen=True)
class PurchaseOrder:
    native: str
    supplier: Supplier
    amount: float
    currency: str
    issued: str
    delivery_date: str
    other_totals: list[float]  # the supplier's other purchase orders, for value_history


def supplier(native: str) -> Supplier:
    (row,) = [r for r in live("SA2010") if party_id("SA2", r) == native]
    return Supplier(native, row["A2_NOME"], digits(row["A2_CGC"]))


def first_supplier() -> Supplier:
    return supplier(party_id("SA2", live("SA2010")[0]))


def _total(filial: str, number: str) -> float:
    items = [r for r in live("SC7010") if (r["C7_FILIAL"], r["C7_NUM"]) == (filial, number)]
    return round(sum(float(i["C7_TOTAL"] or 0) for i in items), 2)


def purchase_order(position: int) -> PurchaseOrder:
    """The purchase order at `position` (0-based) in the fixture, as every connector reads it."""
    filial, number = _po_numbers()[position]
    head = next(r for r in live("SC7010") if (r["C7_FILIAL"], r["C7_NUM"]) == (filial, number))
    issued = iso(head["C7_EMISSAO"])
    prf = head.get("C7_DATPRF", "")
    delivery = iso(prf) if prf else (date.fromisoformat(issued) + DEFAULT_LEAD_TIME).isoformat()
    vendor = (head["C7_FORNECE"], head["C7_LOJA"])
    others = {
        (r["C7_FILIAL"], r["C7_NUM"])
        for r in live("SC7010")
        if (r["C7_FORNECE"], r["C7_LOJA"]) == vendor and r["C7_NUM"] != number
    }
    return PurchaseOrder(
        native=f"SC7:{filial}:{number}",
        supplier=supplier(f"SA2::{vendor[0]}:{vendor[1]}"),
        amount=_total(filial, number),
        currency=MOEDAS[head["C7_MOEDA"]],
        issued=issued,
        delivery_date=delivery,
        other_totals=sorted(_total(*po) for po in others),
    )
