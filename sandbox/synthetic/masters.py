"""Supplier (SA2) and customer (SA1) masters with the structure real ones have.

Rows are originals, generic-name companies, look-alikes, legacy duplicates,
companies shared with another master, extra branches (lojas) and stale deleted
copies; a few records are deleted outright or carry planted defects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sandbox.synthetic import companies, geo, names, taxid
from sandbox.synthetic.companies import TAX_CNPJ, TAX_CPF, Blanks, Numbers
from sandbox.synthetic.entities import new_entities
from sandbox.synthetic.frame import Frame, concat, filled, length, take
from sandbox.synthetic.geo import Cities, IntArray
from sandbox.synthetic.names import BR_COMPANY, BR_PERSON, NamePools
from sandbox.synthetic.text import as_objects, near_spelling, short_name, sloppy_name

BoolArray = npt.NDArray[np.bool_]
Defect = tuple[str, str, str, str]  # entity_type, canonical_id, defect, related canonical_id


@dataclass(frozen=True)
class MasterPlan:
    """Shares of rows per structure, and the origin mix of new companies."""

    dup: float
    branch_rows: float
    lookalike: float
    generic: float
    invalid_taxid: float
    blocked: float
    origin_p: tuple[float, float, float, float, float]
    stale: float = 0.004
    deleted: float = 0.006


SUPPLIER_PLAN = MasterPlan(0.05, 0.08, 0.03, 0.012, 0.01, 0.03, (0.87, 0.08, 0.02, 0.01, 0.02))
CUSTOMER_PLAN = MasterPlan(0.03, 0.03, 0.01, 0.006, 0.01, 0.02, (0.82, 0.18, 0.0, 0.0, 0.0))


@dataclass
class Master:
    """Facts and written columns of one company master, sorted by key."""

    facts: Frame
    written: Frame
    defects: list[Defect] = field(default_factory=list)


class _Claims:
    """Hands out disjoint random subsets of the eligible rows."""

    def __init__(self, rng: np.random.Generator, eligible: BoolArray) -> None:
        self._order = rng.permutation(np.flatnonzero(eligible))
        self._used = np.zeros(len(eligible), dtype=bool)

    def take(self, count: int, mask: BoolArray | None = None) -> IntArray:
        candidates = self._order[~self._used[self._order]]
        if mask is not None:
            candidates = candidates[mask[candidates]]
        chosen: IntArray = candidates[:count]
        self._used[chosen] = True
        return chosen


def _count(n: int, share: float, minimum: int) -> int:
    return max(minimum, round(n * share))


def _label(frame: Frame, role: str, entity: npt.NDArray[np.object_] | None = None) -> Frame:
    n = length(frame)
    frame["role"] = filled(n, role)
    if entity is not None:
        frame["entity"] = entity
    frame["parent"] = np.full(n, -1, dtype=np.int64)
    frame["source"] = np.full(n, -1, dtype=np.int64)
    frame["deleted"] = np.zeros(n, dtype=bool)
    frame["blocked"] = np.zeros(n, dtype=bool)
    return frame


def _branch_counts(rng: np.random.Generator, rows: int) -> IntArray:
    """Extra lojas per multi-branch company, summing exactly to `rows`."""
    per = rng.choice([1, 2, 3, 4], size=rows, p=[0.45, 0.3, 0.15, 0.1])
    total = np.cumsum(per)
    m = int(np.searchsorted(total, rows)) + 1
    per = per[:m].copy()
    per[-1] -= int(total[m - 1]) - rows
    return per.astype(np.int64)


def _lookalike_bodies(rng: np.random.Generator, bodies: list[str], origin: list[int]) -> list[str]:
    suffix = {BR_COMPANY: " do Brasil", names.US_COMPANY: " International"}
    out = []
    for body, o in zip(bodies, origin, strict=True):
        roll = rng.random()
        variant = near_spelling(body) if roll < 0.3 else None
        if variant is None and roll < 0.45 and " & " in body:
            variant = body.replace(" & ", " e ")
        if variant is None and roll < 0.6:
            variant = body + suffix.get(o, " Schweiz")
        out.append(variant or body)
    return out


def build_master(
    rng: np.random.Generator,
    pools: NamePools,
    cities: Cities,
    numbers: Numbers,
    plan: MasterPlan,
    rows: int,
    entity_kind: int,
    shared: Frame | None = None,
    shared_role: str = "",
) -> Master:
    """`rows` records of one company master; `shared` are companies (with their entity ids)
    copied in from another master, labelled `shared_role`."""
    n_shared = length(shared) if shared is not None else 0
    n_stale = _count(rows, plan.stale, 1)
    n_branch = _count(rows, plan.branch_rows, 4)
    n_dup = _count(rows, plan.dup, 2)
    n_look = _count(rows, plan.lookalike, 3)
    clusters = max(2, round(rows * plan.generic / 3))
    n_base = rows - n_shared - n_stale - n_branch - n_dup - n_look - clusters * 3
    if n_base < rows // 2:
        raise ValueError(f"{rows} rows are too few for a master (at least 100 are needed)")
    origin = rng.choice(5, size=n_base, p=plan.origin_p).astype(np.int64)
    base = _label(companies.draw_companies(rng, pools, cities, numbers, origin), "original")
    generic = _generic_companies(rng, pools, cities, numbers, clusters)
    a = concat([base, generic])
    n_a = length(a)
    a["entity"] = new_entities(entity_kind, 0, n_a)
    regular = np.arange(n_a) < n_base
    claims = _Claims(rng, regular)
    is_br = a["origin"] == BR_COMPANY
    per_branch = _branch_counts(rng, n_branch)
    parents = claims.take(len(per_branch), is_br)
    per_branch = per_branch[: len(parents)]
    look_src = claims.take(n_look, a["origin"] != BR_PERSON)
    dup_src = claims.take(n_dup, a["origin"] <= BR_PERSON)
    invalid = claims.take(_count(n_a, plan.invalid_taxid, 1), a["origin"] <= BR_PERSON)
    gone = claims.take(max(1, _count(rows, plan.deleted, 1) - n_dup // 5))
    a["deleted"][gone] = True
    a["blocked"] = rng.random(n_a) < plan.blocked
    looks = _lookalikes(rng, pools, cities, numbers, a, look_src, entity_kind)
    dups = _label(take(a, dup_src), "legacy_duplicate", a["entity"][dup_src])
    dups["source"] = dup_src
    dups["blocked"] = rng.random(len(dup_src)) < 0.6
    dups["deleted"][: n_dup // 5] = True  # clean-ups that deleted some duplicates
    parts = [a, looks, dups]
    if shared is not None:
        parts.append(_label(dict(shared), shared_role, shared["entity"]))
    holders = concat(parts)
    n_h = length(holders)
    # Codes are handed out in keying order, which the shuffle stands for.
    holders["cod"] = rng.permutation(n_h).astype(np.int64) + 1
    holders["loja"] = np.ones(n_h, dtype=np.int64)
    branches = _branches(rng, pools, cities, numbers, holders, parents, per_branch)
    table = _with_stale_copies(rng, pools, cities, concat([holders, branches]), n_stale)
    spoiled = invalid[np.isin(a["tax_kind"][invalid], [TAX_CNPJ, TAX_CPF])]
    table["tax_check"][spoiled] = taxid.spoil(table["tax_check"][spoiled], rng)
    table["defect"] = filled(length(table), "")
    table["defect"][spoiled] = "invalid_check_digits"
    mismatched = length(holders) + np.flatnonzero(branches["mismatch"])
    table["defect"][mismatched] = "branch_cnpj_root_mismatch"
    return _finish(rng, pools, cities, table)


def _lookalikes(
    rng: np.random.Generator,
    pools: NamePools,
    cities: Cities,
    numbers: Numbers,
    a: Frame,
    source: IntArray,
    entity_kind: int,
) -> Frame:
    """Other companies with (nearly) the name of `source`, elsewhere, with their own number."""
    looks = _label(take(a, source), "lookalike")
    looks["source"] = source
    looks["entity"] = new_entities(entity_kind, length(a), len(source))
    looks.update(companies.tax_facts(rng, numbers, looks["origin"]))
    bodies = _lookalike_bodies(rng, looks["body"].tolist(), looks["origin"].tolist())
    looks["body"] = as_objects(bodies)
    _rename_mailboxes(looks)
    moved = np.where(
        looks["origin"] <= BR_PERSON,
        geo.other_city(rng, cities, looks["city"], np.ones(len(source), dtype=np.int64)),
        geo.draw_cities(rng, cities, looks["origin"]),
    )
    companies.relocate(rng, pools, cities, looks, moved)
    return looks


def _rename_mailboxes(frame: Frame) -> None:
    """Keep each mailbox but move it to the domain of the (changed) company name."""
    mailbox = as_objects([e.split("@")[0] for e in frame["email"].tolist()])
    frame["email"] = mailbox + "@" + geo.company_domains(frame["body"], frame["origin"])


def _with_stale_copies(
    rng: np.random.Generator, pools: NamePools, cities: Cities, live: Frame, count: int
) -> Frame:
    """`live` plus deleted older versions of `count` live rows (same key, old address)."""
    source = rng.choice(np.flatnonzero(~live["deleted"]), size=count, replace=False)
    stale = _label(take(live, source), "stale_copy", live["entity"][source])
    stale["deleted"][:] = True
    companies.relocate(rng, pools, cities, stale, stale["city"])
    stale["source"] = source
    return concat([live, stale])


def _generic_companies(
    rng: np.random.Generator, pools: NamePools, cities: Cities, numbers: Numbers, clusters: int
) -> Frame:
    origin = np.full(clusters * 3, BR_COMPANY, dtype=np.int64)
    frame = _label(companies.draw_companies(rng, pools, cities, numbers, origin), "common_name")
    frame["body"] = np.repeat(names.generic_bodies(rng, clusters), 3)
    _rename_mailboxes(frame)
    step = np.tile(np.arange(3, dtype=np.int64), clusters)
    home = np.repeat(frame["city"][::3], 3)
    city = np.where(step == 0, home, geo.other_city(rng, cities, home, step))
    companies.relocate(rng, pools, cities, frame, city)
    return frame


def _branches(
    rng: np.random.Generator,
    pools: NamePools,
    cities: Cities,
    numbers: Numbers,
    holders: Frame,
    parents: IntArray,
    per_branch: IntArray,
) -> Frame:
    src = np.repeat(parents, per_branch)
    first = np.repeat(np.cumsum(per_branch) - per_branch, per_branch)
    loja = np.arange(len(src), dtype=np.int64) - first + 2
    frame = _label(take(holders, src), "branch")
    frame["entity"] = holders["entity"][src] + loja
    frame["loja"], frame["parent"] = loja, src
    frame["tax_branch"] = loja.copy()
    frame["blocked"] = rng.random(len(src)) < 0.03
    companies.relocate(
        rng, pools, cities, frame, geo.other_city(rng, cities, frame["city"], loja - 1)
    )
    # A branch registered under another root (a merger, a typo at registration).
    mismatch = np.zeros(len(src), dtype=bool)
    mismatch[rng.choice(len(src), size=max(1, len(src) // 40), replace=False)] = True
    frame["tax_base"][mismatch] = numbers.cnpj_roots.take(int(mismatch.sum()))
    frame["tax_check"] = companies.check_digits(
        frame["tax_kind"], frame["tax_base"], frame["tax_branch"]
    )
    frame["mismatch"] = mismatch
    return frame


def _finish(rng: np.random.Generator, pools: NamePools, cities: Cities, table: Frame) -> Master:
    """Sort by key (a stale copy right before its live row), then write the columns."""
    n = length(table)
    # Protheus deletes a row and inserts its replacement: the copy has the lower R_E_C_N_O_.
    order = np.lexsort((~table["deleted"], table["loja"], table["cod"]))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    facts = take(table, order)
    facts["related"] = filled(n, "")
    for column in ("parent", "source"):
        link = facts[column]
        facts[column] = np.where(link >= 0, position[np.maximum(link, 0)], -1)
    blanks = Blanks()
    written = companies.render_companies(rng, pools, cities, facts, blanks)
    _write_branches(facts, written)
    _write_duplicates(rng, facts, written)
    return Master(facts=facts, written=written)


def _write_branches(facts: Frame, written: Frame) -> None:
    # A branch carries its head office's name and short name verbatim.
    rows = np.flatnonzero(facts["parent"] >= 0)
    head = facts["parent"][rows]
    written["name"][rows] = written["name"][head]
    written["short"][rows] = written["short"][head]


def _write_duplicates(rng: np.random.Generator, facts: Frame, written: Frame) -> None:
    rows = np.flatnonzero(facts["role"] == "legacy_duplicate")
    legal = names.written_legal(rng, facts["legal"][rows])
    sloppy = [
        sloppy_name(b, lg, rng)
        for b, lg in zip(facts["body"][rows].tolist(), legal.tolist(), strict=True)
    ]
    written["name"][rows] = as_objects(sloppy)
    written["short"][rows] = as_objects([short_name(s) for s in sloppy])
    for column, share in (("cgc", 0.35), ("email_written", 0.4), ("cep_written", 0.25)):
        blank = rows[rng.random(len(rows)) < share]
        written[column][blank] = ""
