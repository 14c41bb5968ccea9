"""Queries a correct resolver must not answer with one record: it halts and asks.

`canonical_ids` lists the plausible live candidates (informational; empty for a
company that is not in the master at all).
"""

from __future__ import annotations

import numpy as np

from resolver.synthetic import names
from resolver.synthetic.lookup import CONTACT, EMPLOYEE, SUPPLIER
from resolver.synthetic.matches import COMPANY_ROLES
from resolver.synthetic.querykit import (
    Context,
    Query,
    city_text,
    clean_name,
    live_rows,
    person_text,
    some_name,
    targets,
    tax_text,
)
from resolver.synthetic.taxid import cnpj_check_digits
from resolver.synthetic.text import name_key

_MAX_CANDIDATES = 25


def _halt(ctx: Context, kind: str, typed: bool, record: dict[str, str], ids: list[str]) -> Query:
    entity_type = SUPPLIER if typed else None
    return Query(kind, entity_type, record, "halt", sorted(set(ids))[:_MAX_CANDIDATES])


def _with_core(ctx: Context, core: str) -> list[str]:
    return ctx.lookup.ids_with_core(core, SUPPLIER)


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
        candidates += _with_core(ctx, name_key(str(f["body"][named])))
        out.append(_halt(ctx, "lookalike_name_only", ctx.coin(0.7), record, candidates))
    return out


def person_both_roles(ctx: Context, count: int) -> list[Query]:
    """The name of somebody who is an employee and an external contact."""
    e = ctx.employees
    pool = np.flatnonzero(~e["deleted"] & (e["role"] == "person_both_roles"))
    out = []
    for r in targets(ctx.rng, pool, count, lambda r: True):
        entity = str(e["entity"][r])
        ids = ctx.lookup.same_entity(EMPLOYEE, entity) + ctx.lookup.same_entity(CONTACT, entity)
        if len(ids) < 2:
            continue
        record = {"name": person_text(ctx, str(e["body"][r]))}
        out.append(Query("person_both_roles", None, record, "halt", sorted(ids)))
    return out


def taxid_contradiction(ctx: Context, count: int) -> list[Query]:
    """Name and city of one supplier with the valid tax id of another."""
    f, w = ctx.suppliers.facts, ctx.suppliers.written
    pool = live_rows(f, COMPANY_ROLES)
    taxed = pool[w["tax_digits"][pool] != ""]
    lookup = ctx.lookup
    owners = targets(ctx.rng, taxed, count, lambda r: lookup.unique_tax(str(w["tax_digits"][r])))
    out = []
    for r in targets(
        ctx.rng,
        pool,
        count,
        lambda r: lookup.unique_name_city(name_key(str(f["body"][r])), int(f["city"][r])),
    ):
        other = owners[len(out) % len(owners)] if owners else -1
        if other < 0 or f["entity"][other] == f["entity"][r]:
            continue
        record = {
            "name": some_name(ctx, f, w, r),
            "city": city_text(ctx, int(f["city"][r])),
            "tax_id": tax_text(ctx, str(w["tax_digits"][other])),
        }
        ids = lookup.same_entity(SUPPLIER, str(f["entity"][r]))
        ids += lookup.same_entity(SUPPLIER, str(f["entity"][other]))
        out.append(_halt(ctx, "taxid_contradiction", ctx.coin(0.7), record, ids))
    return out


def unknown(ctx: Context, count: int) -> list[Query]:
    """A company that is in no master: fresh name, a city, sometimes a valid new CNPJ."""
    out: list[Query] = []
    for _ in range(count * 50):
        if len(out) == count:
            break
        origin = np.full(1, names.BR_COMPANY, dtype=np.int64)
        body, legal = names.company_bodies(ctx.rng, ctx.pools, origin)
        core = name_key(str(body[0]))
        city = int(ctx.rng.choice(ctx.cities.n_br, p=ctx.cities.weight))
        if core in ctx.lookup.all_cores or not ctx.lookup.isolated(core, city, ""):
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
        return lookup.entities_with_core(name_key(str(f["body"][r])), SUPPLIER) >= 3

    rows = targets(ctx.rng, generic, count, shared) or targets(ctx.rng, pool, count, shared)
    out = []
    for r in rows:
        record = {"name": some_name(ctx, f, w, r)}
        ids = _with_core(ctx, name_key(str(f["body"][r])))
        out.append(_halt(ctx, "name_only_common", ctx.coin(0.7), record, ids))
    return out
