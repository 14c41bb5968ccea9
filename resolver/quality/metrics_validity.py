"""Validity: tax ids (CNPJ/CPF check digits, Swiss UID, EU VAT, with python-stdnum), e-mail
syntax, phone numbers (possible E.164 numbers for the record's country, with phonenumbers)
and postcode formats per country. Only filled values are checked: a blank is a matter of
completeness, so each metric's denominator is the records holding a value.

Each distinct value is checked once; the master's columns are mapped through the results.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import phonenumbers
from stdnum import iban

from resolver.normalise import tax_id as normalised_tax_id
from resolver.normalise import tax_id_kind
from resolver.profiles import EntityTypeSpec
from resolver.quality.build import MetricSpec, from_rows
from resolver.quality.metrics_completeness import blank_sql
from resolver.quality.source import (
    Master,
    columns_sql,
    label_sql,
    raw_columns,
    role_sql,
    which_column_sql,
)
from resolver.quality.types import MetricResult, Severity

#: Protheus country codes (SYA, BACEN) and common spellings → ISO 3166 alpha-2.
COUNTRIES = {
    "105": "BR", "01058": "BR", "BR": "BR", "BRA": "BR", "BRASIL": "BR", "BRAZIL": "BR",
    "767": "CH", "CH": "CH", "CHE": "CH", "SUICA": "CH", "SCHWEIZ": "CH", "SWITZERLAND": "CH",
    "023": "DE", "DE": "DE", "DEU": "DE", "ALEMANHA": "DE", "DEUTSCHLAND": "DE", "GERMANY": "DE",
    "249": "US", "US": "US", "USA": "US", "ESTADOS UNIDOS": "US", "UNITED STATES": "US",
}  # fmt: skip
#: Postcode formats per country (separators as clerks type them are allowed).
POSTCODES = {
    "BR": re.compile(r"\d{2}\.?\d{3}-?\d{3}"),
    "CH": re.compile(r"(CH-?)?\d{4}"),
    "DE": re.compile(r"(D-?)?\d{5}"),
    "US": re.compile(r"\d{5}(-\d{4})?"),
}
POSTCODE_RULES = "BR CEP 8 digits, CH 4 digits, DE 5 digits, US ZIP 5 or 5+4 digits"
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)
#: Protheus writes 'EX' (exterior) as the state of a foreign party.
ABROAD = "EX"

Check = Callable[[str, str | None], str | None]  # (value, country) -> problem or None


def tax_id_problem(value: str, _country: str | None = None) -> str | None:
    """Why a written tax id is invalid, or None when stdnum accepts it."""
    text = normalised_tax_id(value)
    if text is None or tax_id_kind(text) is not None:
        return None
    if text.isdigit() and len(text) == 14:
        return "fails the CNPJ check digits"
    if text.isdigit() and len(text) == 11:
        return "fails the CPF check digits"
    if text.startswith("CHE"):
        return "is not a valid Swiss UID"
    if re.fullmatch(r"[A-Z]{2}[0-9A-Z]+", text):
        return "is not a valid EU VAT number"
    return "is neither a CNPJ (14 digits), a CPF (11 digits), a Swiss UID nor an EU VAT number"


def email_problem(value: str, _country: str | None = None) -> str | None:
    """Why an e-mail address is malformed, or None."""
    text = value.strip().removeprefix("mailto:").removeprefix("MAILTO:")
    if EMAIL.fullmatch(text):
        return None
    if "@" not in text:
        return "has no @"
    return "is not a well-formed e-mail address"


def phone_problem(value: str, country: str | None) -> str | None:
    """Why a phone number cannot be a real number of the record's country, or None."""
    try:
        number = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        if country is None and not value.strip().startswith("+"):
            return None  # a foreign number without country: nothing to check it against
        return "cannot be read as a phone number"
    if not phonenumbers.is_possible_number(number):
        where = phonenumbers.region_code_for_number(number) or country or "its country"
        return f"is not a possible phone number in {where}"
    return None


def postcode_problem(value: str, country: str | None) -> str | None:
    """Why a postcode does not fit its country's format, or None (or when unknown)."""
    rule = POSTCODES.get(country or "")
    if rule is None or rule.fullmatch(value.strip().upper().replace(" ", "")):
        return None
    return f"does not fit the {country} postcode format"


def iban_problem(value: str, _country: str | None = None) -> str | None:
    """Why an IBAN is invalid (length, country format, mod-97 check digits), or None."""
    return None if iban.is_valid(value) else "is not a valid IBAN (country format, check digits)"


CHECKS: dict[str, tuple[Check, str, str, Severity]] = {
    "tax_id": (
        tax_id_problem,
        "valid tax id",
        "Share of filled tax ids that python-stdnum accepts: CNPJ and CPF check digits, "
        "Swiss UID (CHE) and EU VAT numbers.",
        "high",
    ),
    "email": (
        email_problem,
        "well-formed e-mail",
        "Share of filled e-mail addresses with valid syntax (local part, @, a domain with a "
        "top-level domain of two letters or more).",
        "medium",
    ),
    "phone": (
        phone_problem,
        "possible phone number",
        "Share of filled phone numbers that phonenumbers reads as a possible E.164 number "
        "for the record's country (Brazil when the record names none).",
        "low",
    ),
    "postcode": (
        postcode_problem,
        "postcode format",
        f"Share of filled postcodes in their country's format ({POSTCODE_RULES}); "
        "postcodes of other countries are not checked.",
        "low",
    ),
    "iban": (
        iban_problem,
        "valid IBAN",
        "Share of filled IBANs (any extract column whose name says IBAN) that python-stdnum "
        "accepts: the country's length and format, and the mod-97 check digits.",
        "high",
    ),
}
#: Extract columns holding IBANs: no profile role names them, so their names do.
IBAN_COLUMN = re.compile(r"IBAN")


def validity(master: Master) -> list[MetricResult]:
    """One metric per checkable field of every party entity type."""
    out = []
    for name in master.parties():
        fields = _fields(master, name)
        if not fields:
            continue
        frame = _values(master, name, fields)
        for key in fields:
            check, title, description, severity = CHECKS[key]
            filled = frame[frame[f"{key}_filled"]]
            pairs = filled[[key, "country"]].drop_duplicates()
            problems = {
                (v, c): check(v, c or None)
                for v, c in zip(pairs[key], pairs["country"], strict=True)
            }
            found = pd.Series(
                [problems[(v, c)] for v, c in zip(filled[key], filled["country"], strict=True)],
                index=filled.index,
                dtype=object,
            )
            bad = filled[found.notna()]
            rows = [
                (cid, label, f"{column} '{value}' {problem}")
                for cid, label, column, value, problem in zip(
                    bad["canonical_id"], bad["label"], bad[f"{key}_column"], bad[key],
                    found[found.notna()], strict=True,
                )
            ]  # fmt: skip
            metric = MetricSpec(
                f"{name}.validity.{key}", name, key, "validity",
                f"{name} {title}", description, severity,
            )  # fmt: skip
            out.append(from_rows(metric, rows, len(filled)))
    return out


def _fields(master: Master, name: str) -> dict[str, list[str]]:
    """The checkable fields of an entity type and the extract columns that hold each."""
    spec = master.types[name]
    fields = {key: spec.roles[key] for key in CHECKS if key in spec.roles}
    ibans = [c for c in raw_columns(master, name) if IBAN_COLUMN.search(c)]
    if ibans:
        fields["iban"] = ibans
    return fields


def _values(master: Master, name: str, fields: dict[str, list[str]]) -> pd.DataFrame:
    """canonical_id, label, country, and per field its raw value, column and filledness."""
    spec = master.types[name]
    selects = [f"{label_sql(spec)} AS label", f"{_country_sql(spec)} AS country_raw"]
    for key, cols in fields.items():
        value = columns_sql(cols)
        selects += [
            f"trim({value}) AS {key}",
            f"{which_column_sql(cols)} AS {key}_column",
            f"NOT {blank_sql(value)} AS {key}_filled",
        ]
    sql = f'SELECT r.canonical_id, {", ".join(selects)} FROM "raw_{name}" r'
    frame = master.con.execute(sql).df()
    frame["country"] = frame["country_raw"].map(_country).fillna("")
    return frame


def _country_sql(spec: EntityTypeSpec) -> str:
    parts = []
    if "country" in spec.roles:
        parts.append(f"nullif(trim({role_sql(spec, 'country')}), '')")
    if "state" in spec.roles:
        state = role_sql(spec, "state")
        parts.append(f"CASE WHEN upper(trim({state})) = '{ABROAD}' THEN '?' END")
    return "coalesce(" + ", ".join([*parts, "'BR'"]) + ")"


def _country(raw: object) -> str | None:
    """ISO code of a written country; None when unknown (abroad, or a code not listed)."""
    text = str(raw).strip().upper()
    return COUNTRIES.get(text) or COUNTRIES.get(text.lstrip("0").zfill(3))
