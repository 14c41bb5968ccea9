"""The fixed, seeded mix of agent queries and their expectations."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np

from sandbox.synthetic import halts, matches
from sandbox.synthetic.querykit import Context, Query

Builder = Callable[[Context, int], list[Query]]

# kind → (share of all queries in percent, builder); resolvable kinds first.
KINDS: Final[dict[str, tuple[int, Builder]]] = {
    "clean_name_taxid": (10, matches.clean_name_taxid),
    "typo_name_city": (9, matches.typo_name_city),
    "abbrev_name_city": (9, matches.abbrev_name_city),
    "taxid_only": (6, matches.taxid_only),
    "branch_with_city": (6, matches.branch_with_city),
    "lookalike_with_taxid": (5, matches.lookalike_with_taxid),
    "field_names": (5, matches.field_names),
    "customer_name_taxid": (8, matches.customer_name_taxid),
    "employee_name_cpf": (7, matches.employee_name_cpf),
    "contact_name_email": (6, matches.contact_name_email),
    "short_name_postcode": (5, matches.short_name_postcode),
    "branch_no_city": (5, halts.branch_no_city),
    "lookalike_name_only": (4, halts.lookalike_name_only),
    "person_both_roles": (4, halts.person_both_roles),
    "taxid_contradiction": (4, halts.taxid_contradiction),
    "unknown": (5, halts.unknown),
    "name_only_common": (2, halts.name_only_common),
}


def query_total(suppliers: int) -> int:
    """How many queries a run of `suppliers` suppliers gets."""
    return min(3000, max(300, suppliers // 2))


def kind_counts(total: int) -> dict[str, int]:
    """Queries per kind: shares of `total`, remainders to the largest fractions."""
    weights = np.array([w for w, _ in KINDS.values()], dtype=np.float64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    extra = np.argsort(-(exact - counts), kind="stable")[: total - int(counts.sum())]
    counts[extra] += 1
    return dict(zip(KINDS, counts.tolist(), strict=True))


def build_queries(ctx: Context, total: int) -> list[tuple[str, Query]]:
    """All queries, shuffled, with ids q000001…"""
    built: list[Query] = []
    for kind, count in kind_counts(total).items():
        built.extend(KINDS[kind][1](ctx, count))
    order = ctx.rng.permutation(len(built)).tolist()
    return [(f"q{i + 1:06d}", built[j]) for i, j in enumerate(order)]


def write_queries(directory: Path, queries: list[tuple[str, Query]]) -> Counter[str]:
    """queries.jsonl and expected.jsonl; returns the count per kind."""
    with (
        (directory / "queries.jsonl").open("w", encoding="utf-8") as q_out,
        (directory / "expected.jsonl").open("w", encoding="utf-8") as e_out,
    ):
        for qid, q in queries:
            q_out.write(
                json.dumps(
                    {"id": qid, "entity_type": q.entity_type, "record": q.record},
                    ensure_ascii=False,
                )
                + "\n"
            )
            e_out.write(
                json.dumps(
                    {
                        "id": qid,
                        "kind": q.kind,
                        "expected": q.expected,
                        "canonical_ids": q.canonical_ids,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return Counter(q.kind for _, q in queries)
