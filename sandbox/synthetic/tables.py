"""Protheus column layouts, canonical ids, and the truth files, from the internal frames."""

from __future__ import annotations

from typing import Final

import numpy as np

from sandbox.synthetic import fmt, vocab
from sandbox.synthetic.entities import entity_names
from sandbox.synthetic.frame import Frame, filled, length
from sandbox.synthetic.geo import BoolArray, Cities, IntArray, written_cities
from sandbox.synthetic.masters import Defect, Master
from sandbox.synthetic.names import BR_PERSON, CH_COMPANY, DE_COMPANY, US_COMPANY
from sandbox.synthetic.text import ObjArray, as_objects

Columns = dict[str, ObjArray]

SA2_HEADER: Final = (
    "A2_FILIAL", "A2_COD", "A2_LOJA", "A2_NOME", "A2_NREDUZ", "A2_END", "A2_MUN", "A2_EST",
    "A2_CEP", "A2_TIPO", "A2_CGC", "A2_TEL", "A2_EMAIL", "A2_PAIS", "A2_MSBLQL",
    "D_E_L_E_T_", "R_E_C_N_O_",
)  # fmt: skip
SA1_HEADER: Final = (
    "A1_FILIAL", "A1_COD", "A1_LOJA", "A1_NOME", "A1_NREDUZ", "A1_PESSOA", "A1_END", "A1_MUN",
    "A1_EST", "A1_CEP", "A1_CGC", "A1_TEL", "A1_EMAIL", "A1_MSBLQL", "D_E_L_E_T_", "R_E_C_N_O_",
)  # fmt: skip
SRA_HEADER: Final = (
    "RA_FILIAL", "RA_MAT", "RA_NOME", "RA_CIC", "RA_NASC", "RA_EMAIL", "RA_MUNICIP",
    "RA_ESTADO", "RA_SITFOLH", "D_E_L_E_T_", "R_E_C_N_O_",
)  # fmt: skip
SU5_HEADER: Final = (
    "U5_FILIAL", "U5_CODCONT", "U5_CONTAT", "U5_EMAIL", "U5_FONE", "U5_CELULAR", "U5_END",
    "U5_MUN", "U5_EST", "D_E_L_E_T_", "R_E_C_N_O_",
)  # fmt: skip
SC7_HEADER: Final = (
    "C7_FILIAL", "C7_NUM", "C7_ITEM", "C7_PRODUTO", "C7_QUANT", "C7_PRECO", "C7_TOTAL",
    "C7_FORNECE", "C7_LOJA", "C7_EMISSAO", "C7_CONAPRO", "C7_ENCER", "C7_MOEDA",
    "D_E_L_E_T_", "R_E_C_N_O_",
)  # fmt: skip
TRUTH_HEADER: Final = ("entity_type", "canonical_id", "entity_id", "role", "deleted")
DEFECTS_HEADER: Final = ("entity_type", "canonical_id", "defect", "related_id")


def digits(values: IntArray, width: int) -> ObjArray:
    """Zero-padded decimal strings."""
    return fmt.padded(values, width)


def filial_codes(values: IntArray) -> ObjArray:
    """Branch index 0, 1, 2 → '01', '02', '03'."""
    return fmt.padded(values + 1, 2)


def _recno(n: int) -> ObjArray:
    return fmt.decimal(np.arange(1, n + 1))


def _deleted(flags: BoolArray) -> ObjArray:
    return fmt.choose(flags, filled(len(flags), "*"), filled(len(flags), ""))


def company_ids(alias: str, facts: Frame) -> ObjArray:
    """'SA2::000123:01' per row (the shared tables have a blank FILIAL)."""
    return alias + "::" + fmt.padded(facts["cod"], 6) + ":" + fmt.padded(facts["loja"], 2)  # type: ignore[no-any-return]


def employee_ids(frame: Frame) -> ObjArray:
    """'SRA:01:000123' per row."""
    return "SRA:" + filial_codes(frame["filial"]) + ":" + fmt.padded(frame["mat"], 6)  # type: ignore[no-any-return]


def contact_ids(frame: Frame) -> ObjArray:
    """'SU5::000123' per row."""
    return "SU5::" + fmt.padded(frame["code"], 6)  # type: ignore[no-any-return]


def order_ids(frame: Frame) -> ObjArray:
    """'SC7:01:000123' per item row."""
    return "SC7:" + filial_codes(frame["filial"]) + ":" + fmt.padded(frame["num"], 6)  # type: ignore[no-any-return]


def _blocked(rng: np.random.Generator, flags: BoolArray) -> ObjArray:
    # Unblocked is '2' when someone opened the field, blank when nobody did.
    unblocked = np.where(rng.random(len(flags)) < 0.75, "2", "")
    return as_objects(np.where(flags, "1", unblocked).tolist())


def supplier_columns(rng: np.random.Generator, master: Master) -> Columns:
    """SA2010 columns, in header order."""
    f, w = master.facts, master.written
    n = length(f)
    origin = f["origin"]
    kind = np.where(origin == BR_PERSON, "F", np.where(origin > BR_PERSON, "X", "J"))
    country = np.select(
        [origin == CH_COMPANY, origin == DE_COMPANY, origin == US_COMPANY],
        [vocab.COUNTRY_CH, vocab.COUNTRY_DE, vocab.COUNTRY_US],
        vocab.COUNTRY_BR,
    )
    values = (
        filled(n, ""), digits(f["cod"], 6), digits(f["loja"], 2), w["name"], w["short"],
        w["address"], w["city_written"], w["state"], w["cep_written"], as_objects(kind.tolist()),
        w["cgc"], w["phone_written"], w["email_written"], as_objects(country.tolist()),
        _blocked(rng, f["blocked"]), _deleted(f["deleted"]), _recno(n),
    )  # fmt: skip
    return dict(zip(SA2_HEADER, values, strict=True))


def customer_columns(rng: np.random.Generator, master: Master) -> Columns:
    """SA1010 columns, in header order."""
    f, w = master.facts, master.written
    n = length(f)
    person = as_objects(np.where(f["origin"] == BR_PERSON, "F", "J").tolist())
    values = (
        filled(n, ""), digits(f["cod"], 6), digits(f["loja"], 2), w["name"], w["short"], person,
        w["address"], w["city_written"], w["state"], w["cep_written"], w["cgc"],
        w["phone_written"], w["email_written"], _blocked(rng, f["blocked"]),
        _deleted(f["deleted"]), _recno(n),
    )  # fmt: skip
    return dict(zip(SA1_HEADER, values, strict=True))


def employee_columns(cities: Cities, frame: Frame) -> Columns:
    """SRA010 columns, in header order."""
    n = length(frame)
    values = (
        filial_codes(frame["filial"]), digits(frame["mat"], 6), frame["name"], frame["cpf"],
        frame["birth"], frame["email"], frame["city_written"], cities.state[frame["city"]],
        frame["status"], _deleted(frame["deleted"]), _recno(n),
    )  # fmt: skip
    return dict(zip(SRA_HEADER, values, strict=True))


def contact_columns(rng: np.random.Generator, cities: Cities, frame: Frame) -> Columns:
    """SU5010 columns, in header order."""
    n = length(frame)
    values = (
        filled(n, ""), digits(frame["code"], 6), frame["name"], frame["email"], frame["phone"],
        frame["mobile"], frame["address"], written_cities(rng, cities, frame["city"]),
        cities.state[frame["city"]], _deleted(frame["deleted"]), _recno(n),
    )  # fmt: skip
    return dict(zip(SU5_HEADER, values, strict=True))


def order_columns(frame: Frame) -> Columns:
    """SC7010 columns, in header order."""
    n = length(frame)
    values = (
        filial_codes(frame["filial"]), digits(frame["num"], 6), digits(frame["item"], 4),
        frame["product"], frame["quantity"], frame["price"], frame["total"],
        digits(frame["cod"], 6), digits(frame["loja"], 2), frame["issued"], frame["approval"],
        as_objects(frame["closed"].tolist()), frame["currency"], _deleted(frame["deleted"]),
        _recno(n),
    )  # fmt: skip
    return dict(zip(SC7_HEADER, values, strict=True))


def truth_rows(entity_type: str, ids: ObjArray, frame: Frame) -> Columns:
    """truth/entities.csv rows of one table."""
    n = len(ids)
    values = (
        filled(n, entity_type), ids, entity_names(frame["entity"]), frame["role"],
        as_objects(np.where(frame["deleted"], "1", "0").tolist()),
    )  # fmt: skip
    return dict(zip(TRUTH_HEADER, values, strict=True))


def defect_rows(entity_type: str, ids: ObjArray, frame: Frame) -> list[Defect]:
    """truth/defects.csv rows of one table (rows whose `defect` is set)."""
    rows = np.flatnonzero(frame["defect"] != "")
    related = frame["related"] if "related" in frame else filled(len(ids), "")
    return [(entity_type, str(ids[i]), str(frame["defect"][i]), str(related[i])) for i in rows]


def link_branch_defects(facts: Frame, ids: ObjArray) -> None:
    """A branch registered under another root points at its head office."""
    rows = np.flatnonzero((facts["defect"] == "branch_cnpj_root_mismatch") & (facts["parent"] >= 0))
    facts["related"][rows] = ids[facts["parent"][rows]]


def order_defects(frame: Frame, ids: ObjArray, supplier_ids: ObjArray) -> list[Defect]:
    """Defects of purchase orders; the related id is the supplier key the order names."""
    out: list[Defect] = []
    for i in np.flatnonzero(frame["defect"] != "").tolist():
        if frame["defect"][i] == "open_po_blocked_supplier":
            related = str(supplier_ids[frame["supplier_row"][i]])
        else:
            related = f"SA2::{frame['cod'][i]:06d}:{frame['loja'][i]:02d}"
        out.append(("purchase_order", str(ids[i]), str(frame["defect"][i]), related))
    return out
