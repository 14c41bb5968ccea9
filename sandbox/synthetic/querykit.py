"""Shared pieces of the query builders: the context they read, the query value, and how
names, cities and tax ids are written in an agent's request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sandbox.synthetic import names
from sandbox.synthetic.companies import Numbers
from sandbox.synthetic.frame import Frame
from sandbox.synthetic.geo import Cities, IntArray
from sandbox.synthetic.lookup import Lookup
from sandbox.synthetic.masters import Master
from sandbox.synthetic.names import NamePools
from sandbox.synthetic.text import ObjArray, strip_accents


@dataclass(frozen=True)
class Query:
    """One agent request and what a correct resolver does with it."""

    kind: str
    entity_type: str | None
    record: dict[str, str]
    expected: str  # "match" | "halt"
    canonical_ids: list[str]


@dataclass
class Context:
    """Everything the builders read; `rng` is the only thing they change."""

    rng: np.random.Generator
    lookup: Lookup
    suppliers: Master
    supplier_ids: ObjArray
    customers: Master
    customer_ids: ObjArray
    employees: Frame
    employee_ids: ObjArray
    contacts: Frame
    contact_ids: ObjArray
    cities: Cities
    pools: NamePools
    numbers: Numbers
    null_share: float = 0.2

    def maybe_null(self, eligible: bool) -> bool:
        """Drop the entity type from this query (only when nothing else could match)."""
        return eligible and bool(self.rng.random() < self.null_share)

    def coin(self, p: float = 0.5) -> bool:
        """A biased coin from the query stream."""
        return bool(self.rng.random() < p)


def targets(
    rng: np.random.Generator, candidates: IntArray, count: int, accept: Callable[[int], bool]
) -> list[int]:
    """Up to `count` accepted candidates in random order; reused cyclically when the pool
    has fewer (small samples), none when nothing is acceptable."""
    chosen: list[int] = []
    for row in rng.permutation(candidates).tolist():
        if accept(row):
            chosen.append(row)
            if len(chosen) == count:
                return chosen
    return [chosen[i % len(chosen)] for i in range(count)] if chosen else []


def clean_name(ctx: Context, facts: Frame, row: int) -> str:
    """The name as a careful person writes it: body and canonical legal form."""
    legal = names.written_legal(ctx.rng, facts["legal"][[row]], canonical=True)[0]
    body = str(facts["body"][row])
    return f"{body} {legal}" if legal else body


def some_name(ctx: Context, facts: Frame, written: Frame, row: int) -> str:
    """Either the name exactly as keyed in the master or its clean form."""
    return str(written["name"][row]) if ctx.coin() else clean_name(ctx, facts, row)


def city_text(ctx: Context, city: int) -> str:
    """A city as an agent writes it: accented, plain, or upper case."""
    variants = ctx.cities.variants[city]
    return str(variants[int(ctx.rng.integers(len(variants)))])


def person_text(ctx: Context, body: str) -> str:
    """A person's name in title, upper or accent-free form."""
    roll = ctx.rng.random()
    if roll < 0.4:
        return body
    if roll < 0.7:
        return strip_accents(body).upper()
    return strip_accents(body) if roll < 0.85 else body.upper()


def tax_text(ctx: Context, digits: str) -> str:
    """A tax id written raw or punctuated, whatever the master has."""
    if not ctx.coin():
        return digits
    if digits.startswith("CHE"):
        d = digits[3:]
        return f"CHE-{d[:3]}.{d[3:6]}.{d[6:]}"
    if len(digits) == 14:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


def digits_of(text: str) -> str:
    """A tax id as written, without its punctuation ('CHE123456789' for a Swiss UID)."""
    return text.replace(".", "").replace("-", "").replace("/", "")


def cep_text(ctx: Context, digits: str) -> str:
    """'01310-100' or '01310100'."""
    return f"{digits[:5]}-{digits[5:]}" if ctx.coin() else digits


def live_rows(frame: Frame, roles: tuple[str, ...]) -> IntArray:
    """Live rows with one of `roles` and no planted defect."""
    wanted = np.zeros(len(frame["role"]), dtype=bool)
    for role in roles:
        wanted |= frame["role"] == role
    mask = wanted & ~frame["deleted"] & (frame["defect"] == "")
    return np.flatnonzero(mask)
