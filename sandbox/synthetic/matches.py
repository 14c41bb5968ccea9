"""Queries a correct resolver answers with `match`, each checked against the written rows."""

from __future__ import annotations

import numpy as np

from sandbox.synthetic import names
from sandbox.synthetic.lookup import CONTACT, CUSTOMER, EMPLOYEE, SUPPLIER, IntArray
from sandbox.synthetic.querykit import (
    Context,
    Query,
    cep_text,
    city_text,
    clean_name,
    digits_of,
    live_rows,
    person_text,
    some_name,
    targets,
    tax_text,
)
from sandbox.synthetic.text import abbreviate, name_key, strip_accents, typo

COMPANY_ROLES = ("original", "common_name", "also_customer", "also_supplier")


def _match(
    ctx: Context, kind: str, entity_type: str, null: bool, record: dict[str, str], row: int
) -> Query:
    ids = ctx.lookup.same_entity(entity_type, row)
    return Query(kind, None if null else entity_type, record, "match", ids)


def _supplier_taxed(ctx: Context) -> IntArray:
    rows = live_rows(ctx.suppliers.facts, COMPANY_ROLES)
    taxed: IntArray = rows[ctx.suppliers.written["cgc"][rows] != ""]
    return taxed


def _taxid_queries(ctx: Context, count: int, kind: str) -> list[Query]:
    f, w = ctx.suppliers.facts, ctx.suppliers.written
    rows = targets(
        ctx.rng, _supplier_taxed(ctx), count, lambda r: ctx.lookup.unique("tax", SUPPLIER, r)
    )
    out = []
    for r in rows:
        tax = digits_of(str(w["cgc"][r]))
        null = kind != "field_names" and ctx.maybe_null(ctx.lookup.unique("tax", SUPPLIER, r, True))
        if kind == "clean_name_taxid":
            record = {"name": some_name(ctx, f, w, r), "tax_id": tax_text(ctx, tax)}
        elif kind == "taxid_only":
            record = {"tax_id": tax_text(ctx, tax)}
        else:
            record = {"A2_NOME": str(w["name"][r]), "A2_CGC": str(w["cgc"][r]) or tax}
            if ctx.coin():
                record["A2_MUN"] = str(w["city_written"][r])
        out.append(_match(ctx, kind, SUPPLIER, null, record, r))
    return out


def clean_name_taxid(ctx: Context, count: int) -> list[Query]:
    """Name and tax id (raw or punctuated) of a supplier."""
    return _taxid_queries(ctx, count, "clean_name_taxid")


def taxid_only(ctx: Context, count: int) -> list[Query]:
    """A supplier's tax id alone."""
    return _taxid_queries(ctx, count, "taxid_only")


def field_names(ctx: Context, count: int) -> list[Query]:
    """A supplier's name and tax id under their Protheus field names."""
    return _taxid_queries(ctx, count, "field_names")


def _name_city_ok(ctx: Context, row: int) -> bool:
    return ctx.lookup.unique_name_city(SUPPLIER, row) and ctx.lookup.isolated(SUPPLIER, row)


def _abbreviated(ctx: Context, row: int) -> str:
    f = ctx.suppliers.facts
    body = str(f["body"][row])
    name = abbreviate(body)
    legal = str(names.written_legal(ctx.rng, f["legal"][[row]])[0])
    if legal and ctx.coin(0.6):
        name = f"{name} {legal}"
    if name == body or ctx.coin():
        name = strip_accents(name)
    return name.upper() if ctx.coin(0.6) else name


def _name_city_queries(ctx: Context, count: int, kind: str) -> list[Query]:
    f = ctx.suppliers.facts
    if kind == "branch_with_city":
        has_branch = np.zeros(len(f["cod"]), dtype=bool)
        has_branch[f["parent"][f["parent"] >= 0]] = True
        pool = live_rows(f, ("branch", *COMPANY_ROLES))
        pool = pool[(f["role"][pool] == "branch") | has_branch[pool]]
    else:
        pool = live_rows(f, COMPANY_ROLES)
    out = []
    for r in targets(ctx.rng, pool, count, lambda r: _name_city_ok(ctx, r)):
        if kind == "typo_name_city":
            # Slips go into the name itself; a misspelt legal form is no test of matching.
            body = typo(str(f["body"][r]), ctx.rng, int(ctx.rng.integers(1, 3)))
            name = clean_name(ctx, f, r).replace(str(f["body"][r]), body, 1)
        elif kind == "abbrev_name_city":
            name = _abbreviated(ctx, r)
        else:
            name = some_name(ctx, f, ctx.suppliers.written, r)
        record = {"name": name, "city": city_text(ctx, int(f["city"][r]))}
        if kind == "abbrev_name_city" or ctx.coin():
            record["state"] = str(ctx.cities.state[int(f["city"][r])])
        out.append(_match(ctx, kind, SUPPLIER, ctx.maybe_null(True), record, r))
    return out


def typo_name_city(ctx: Context, count: int) -> list[Query]:
    """A supplier's name with one or two slips, and its city."""
    return _name_city_queries(ctx, count, "typo_name_city")


def abbrev_name_city(ctx: Context, count: int) -> list[Query]:
    """Abbreviated / re-cased / accent-free name with a changed legal form, city and state."""
    return _name_city_queries(ctx, count, "abbrev_name_city")


def branch_with_city(ctx: Context, count: int) -> list[Query]:
    """The name of a multi-branch supplier and the city of one of its branches."""
    return _name_city_queries(ctx, count, "branch_with_city")


def _name_taxid(
    ctx: Context, count: int, kind: str, entity_type: str, roles: tuple[str, ...]
) -> list[Query]:
    master = ctx.suppliers if entity_type == SUPPLIER else ctx.customers
    f, w = master.facts, master.written
    lookup = ctx.lookup
    out = []
    for r in targets(
        ctx.rng, live_rows(f, roles), count, lambda r: lookup.unique("tax", entity_type, r)
    ):
        null = ctx.maybe_null(lookup.unique("tax", entity_type, r, single_type=True))
        record = {
            "name": some_name(ctx, f, w, r),
            "tax_id": tax_text(ctx, digits_of(str(w["cgc"][r]))),
        }
        out.append(_match(ctx, kind, entity_type, null, record, r))
    return out


def lookalike_with_taxid(ctx: Context, count: int) -> list[Query]:
    """A look-alike company's name with its own tax id."""
    return _name_taxid(ctx, count, "lookalike_with_taxid", SUPPLIER, ("lookalike",))


def customer_name_taxid(ctx: Context, count: int) -> list[Query]:
    """A customer's name and CNPJ/CPF."""
    return _name_taxid(ctx, count, "customer_name_taxid", CUSTOMER, COMPANY_ROLES)


def employee_name_cpf(ctx: Context, count: int) -> list[Query]:
    """An employee's name with the CPF, or with birth date and home town."""
    e, lookup = ctx.employees, ctx.lookup
    seen: dict[tuple[str, str, int], int] = {}
    rows = lookup.table_rows(EMPLOYEE)
    cores = lookup.core_of(EMPLOYEE, rows).tolist()
    for key in zip(cores, e["birth"][rows].tolist(), e["city"][rows].tolist(), strict=True):
        seen[key] = seen.get(key, 0) + 1
    out = []
    pool = live_rows(e, ("original",))
    for r in targets(ctx.rng, pool, count, lambda r: lookup.unique("tax", EMPLOYEE, r)):
        name = person_text(ctx, str(e["body"][r]))
        key = (name_key(str(e["body"][r])), str(e["birth"][r]), int(e["city"][r]))
        if ctx.coin(0.35) and seen.get(key, 0) == 1:
            birth = str(e["birth"][r])
            record = {
                "name": name,
                "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
                "city": city_text(ctx, int(e["city"][r])),
            }
            null = False
        else:
            record = {"name": name, "tax_id": tax_text(ctx, digits_of(str(e["cpf"][r])))}
            null = ctx.maybe_null(lookup.unique("tax", EMPLOYEE, r, single_type=True))
        out.append(_match(ctx, "employee_name_cpf", EMPLOYEE, null, record, r))
    return out


def contact_name_email(ctx: Context, count: int) -> list[Query]:
    """A contact's name and e-mail."""
    c, lookup = ctx.contacts, ctx.lookup
    out = []
    pool = live_rows(c, ("original",))
    for r in targets(ctx.rng, pool, count, lambda r: lookup.unique("email", CONTACT, r)):
        email = str(c["email"][r])
        null = ctx.maybe_null(lookup.unique("email", CONTACT, r, single_type=True))
        record = {
            "name": person_text(ctx, str(c["body"][r])),
            "email": email.lower() if ctx.coin(0.8) else email.upper(),
        }
        out.append(_match(ctx, "contact_name_email", CONTACT, null, record, r))
    return out


def short_name_postcode(ctx: Context, count: int) -> list[Query]:
    """A supplier's short name (A2_NREDUZ-like) and its CEP."""
    f, w, lookup = ctx.suppliers.facts, ctx.suppliers.written, ctx.lookup
    out = []
    pool = live_rows(f, COMPANY_ROLES)
    for r in targets(ctx.rng, pool, count, lambda r: lookup.unique("cep", SUPPLIER, r)):
        short = str(w["short"][r])
        record = {
            "name": short if ctx.coin() else strip_accents(short).title(),
            "postcode": cep_text(ctx, str(w["cep_written"][r]).replace("-", "")),
        }
        null = ctx.maybe_null(True)
        out.append(_match(ctx, "short_name_postcode", SUPPLIER, null, record, r))
    return out
