"""Recall of the capped blocking pass against brute force, query by query.

Brute force is the same resolver with no scan budget: every usable name posting scanned whole,
so the name candidates are the exact IDF top (`resolver.index.name_candidates`). Each query is
resolved both ways, alternately first, and timed; a query's right record is the one its
generator expected it to match (any of them, where it names several). "Found" means among the
candidates a resolution returns (the top five), and "first" that it is the top one. A decision
changes when the decision or the canonical id differs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from resolver.service import Resolver
from resolver.types import Resolution, ResolveQuery


@dataclass(frozen=True)
class Change:
    """One query answered differently with the budget than without."""

    id: str
    kind: str
    before: str
    after: str


@dataclass
class RecallReport:
    budget: int | None
    queries: int = 0
    #: Queries whose generator expects a match (to the right record).
    with_right_record: int = 0
    brute_found: int = 0  # right record among brute force's returned candidates
    capped_found: int = 0  # … and among the capped pass's too
    brute_first: int = 0  # right record first for brute force
    capped_first: int = 0  # … and first for the capped pass too
    #: Queries whose returned candidates (ids or weights) differ.
    answers_changed: int = 0
    changes: list[Change] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    brute_ms: list[float] = field(default_factory=list, repr=False)
    capped_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def recall(self) -> float:
        """Share of the right records brute force returns that the capped pass returns too."""
        return self.capped_found / self.brute_found if self.brute_found else 1.0

    @property
    def recall_first(self) -> float:
        return self.capped_first / self.brute_first if self.brute_first else 1.0


def _answer(resolution: Resolution) -> str:
    return f"{resolution.decision.value}:{resolution.canonical_id or '-'}"


def _candidates(resolution: Resolution) -> list[tuple[str, float]]:
    return [(c.canonical_id, round(c.match_weight, 9)) for c in resolution.candidates]


def compare(
    resolver: Resolver,
    queries: Sequence[Mapping[str, object]],
    expected: Mapping[str, Mapping[str, object]],
    budget: int | None,
) -> RecallReport:
    """Resolve every query without and with `budget`; the resolver's budget is restored."""
    report = RecallReport(budget)
    saved = resolver.scan_budget
    try:
        for n, raw in enumerate(queries):
            query = ResolveQuery.model_validate(raw)
            answers: dict[int | None, Resolution] = {}
            for b in (None, budget) if n % 2 == 0 else (budget, None):
                resolver.scan_budget = b
                started = time.perf_counter_ns()
                answers[b] = resolver.resolve(query)
                elapsed = (time.perf_counter_ns() - started) / 1e6
                (report.brute_ms if b is None else report.capped_ms).append(elapsed)
            brute, capped = answers[None], answers[budget]
            truth = expected.get(str(raw.get("id")), {})
            kind = str(truth.get("kind", "?"))
            report.queries += 1
            report.kinds[kind] = report.kinds.get(kind, 0) + 1
            if _candidates(brute) != _candidates(capped):
                report.answers_changed += 1
            if _answer(brute) != _answer(capped):
                report.changes.append(
                    Change(str(raw.get("id")), kind, _answer(brute), _answer(capped))
                )
            ids = truth.get("canonical_ids")
            if truth.get("expected") != "match" or not isinstance(ids, list) or not ids:
                continue
            right = {str(i) for i in ids}
            report.with_right_record += 1
            if right & {c.canonical_id for c in brute.candidates}:
                report.brute_found += 1
                report.capped_found += bool(right & {c.canonical_id for c in capped.candidates})
            if brute.candidates and brute.candidates[0].canonical_id in right:
                report.brute_first += 1
                report.capped_first += bool(
                    capped.candidates and capped.candidates[0].canonical_id in right
                )
    finally:
        resolver.scan_budget = saved
    return report
