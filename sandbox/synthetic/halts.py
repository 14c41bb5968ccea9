"""Queries a correct resolver must not answer with one record: it halts and asks.

`canonical_ids` lists the plausible live candidates (informational; empty for a
company that is not in the master at all).
"""

from __future__ import annotations

import numpy as np

from sandbox.synthetic import names
from sandbox.synthetic.lookup import CONTACT, EMPLOYEE, SUPPLIER
from sandbox.synthetic.matches import COMPANY_ROLES
from sandbox.synthetic.querykit import (
    Context,
    Query,
    city_text,
    clean_name,
    digits_of,
    live_rows,
    person_text,
    some_name,
    targets,
    tax_text,
)
from sandbox.synthetic.taxid import cnpj_check_digits
from sandbox.synthetic.text import name_key

_MAX_CANDIDATES = 25


def _halt(ctx: Context, kind: str, typed: bool, record: dict[str, str], ids: list[str]) -> Query:
    entity_type = SUPPLIER if typed else None
    return Query(kind, entity_type, record, "halt", sorted(set(ids))[:_MAX_CANDIDATES])


def branch_no_city(ctx: Context, count: int) -> list[Query]:
    """The name of a supplier with several live branches, and nothing to pick one."""
    f, ids = ctx.suppliers.facts, ctx.supplier_ids
    live = ~f["deleted"]
    branch_rows = np.flatnonzero(live & (f["role"] == "branch"))
    heads, per = np.unique(f["parent"][branch_rows], return_counts=True)
    # With the head office live, one live branch is enough for two candidates.
    ok = heads[(live[heads] & (per >= 1)) | (per >= 2)]
    out = []
    for head in targets(ctx.rng, ok, count, lambda r: True):
        group = np.flatnonzero((f["cod"] == f["cod"][head]) & live)
        record = {"name": some_name(ctx, f, ctx.suppliers.written, head)}
        typed = ctx.coin(0.7)
        out.append(_halt(ctx, "branch_no_city", typed, record, [str(i) for i in ids[group]]))
    return out


def lookalike_name_only(ctx: Context, count: int) -> list[Query]:
    """A name that a company and its look-alike both carry, and nothing else."""
    f, w, ids = ctx.suppliers.facts, ctx.suppliers.written, ctx.supplier_ids
    pool = np.flatnonzero(~f["deleted"] & (f["role"] == "lookalike"))
    pool = pool[~f["deleted"][f["source"][pool]]]
    out = []
    for r in targets(ctx.rng, pool, count, lambda r: True):
        src = int(f["source"][r])
        named = r if ctx.coin() else src
        record = {"name": some_name(ctx, f, w, named)}
        candidates = [str(ids[r]), str(ids[src])]
        candidates += ctx.lookup.ids_with_core(SUPPLIER, named, SUPPLIER)
        out.append(_halt(ctx, "lookalike_name_only", ctx.coin(0.7), record, candidates))
    return out


def person_both_roles(ctx: Context, count: int) -> list[Query]:
    """The name of somebody who is an employee and an external contact."""
    e = ctx.employees
    pool = np.flatnonzero(~e["deleted"] & (e["role"] == "person_both_roles"))
    out = []
    for r in targets(ctx.rng, pool, count, lambda r: True):
        ids = ctx.lookup.same_entity(EMPLOYEE, r) + ctx.lookup.same_entity(EMPLOYEE, r, CONTACT)
        if len(ids) < 2:
            continue
        record = {"name": person_text(ctx, str(e["body"][r]))}
        out.append(Query("person_both_roles", None, record, "halt", sorted(ids)))
    return out


def taxid_contradiction(ctx: Context, count: int) -> list[Query]:
    """Name and city of one supplier with the valid tax id of another."""
    f, w, lookup = ctx.suppliers.facts, ctx.suppliers.written, ctx.lookup
    pool = live_rows(f, COMPANY_ROLES)
    owners = targets(ctx.rng, pool, count + 5, lambda r: lookup.unique("tax", SUPPLIER, r))
    named = targets(ctx.rng, pool, count + 5, lambda r: lookup.unique_name_city(SUPPLIER, r))
    out: list[Query] = []
    for r, other in zip(named, owners, strict=False):
        if f["entity"][other] == f["entity"][r] or len(out) == count:
            continue
        record = {
            "name": some_name(ctx, f, w, r),
            "city": city_text(ctx, int(f["city"][r])),
            "tax_id": tax_text(ctx, digits_of(str(w["cgc"][other]))),
        }
        ids = lookup.same_entity(SUPPLIER, r) + lookup.same_entity(SUPPLIER, other)
        out.append(_halt(ctx, "taxid_contradiction", ctx.coin(0.7), record, ids))
    return out


def unknown(ctx: Context, count: int) -> list[Query]:
    """A company that is in no master: fresh name, a city, sometimes a valid new CNPJ."""
    out: list[Query] = []
    bodies, legals = names.novel_bodies(ctx.rng, ctx.pools, count * 20)
    for i in range(len(bodies)):
        if len(out) == count:
            break
        body, legal = bodies[[i]], legals[[i]]
        core = name_key(str(body[0]))
        city = int(ctx.rng.choice(ctx.cities.n_br, p=ctx.cities.weight))
        if core in ctx.lookup.all_cores or not ctx.lookup.isolated_name(core, city):
            continue
        facts = {"body": body, "legal": legal}
        record = {"name": clean_name(ctx, facts, 0), "city": city_text(ctx, city)}
        if ctx.coin():
            root = ctx.numbers.cnpj_roots.take(1)
            check = int(cnpj_check_digits(root, np.ones(1, dtype=np.int64))[0])
            record["tax_id"] = tax_text(ctx, f"{int(root[0]):08d}0001{check:02d}")
        out.append(_halt(ctx, "unknown", ctx.coin(0.7), record, []))
    return out


def name_only_common(ctx: Context, count: int) -> list[Query]:
    """A generic name ('Comercial São José') that several unrelated suppliers carry."""
    f, w = ctx.suppliers.facts, ctx.suppliers.written
    lookup = ctx.lookup
    pool = live_rows(f, COMPANY_ROLES)
    # Planted generic names first: at small sizes chance collisions are too rare.
    generic = pool[f["role"][pool] == "common_name"]

    def shared(r: int) -> bool:
        return lookup.entities_with_core(SUPPLIER, r, SUPPLIER) >= 3

    rows = targets(ctx.rng, generic, count, shared) or targets(ctx.rng, pool, count, shared)
    out = []
    for r in rows:
        record = {"name": some_name(ctx, f, w, r)}
        ids = lookup.ids_with_core(SUPPLIER, r, SUPPLIER)
        out.append(_halt(ctx, "name_only_common", ctx.coin(0.7), record, ids))
    return out
