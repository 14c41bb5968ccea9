"""Tallies and metrics of the accuracy harness.

- match precision = correct matches / matches (a match on a must-halt query is a wrong match);
- coverage = correct matches / queries with one right answer;
- halt = halted (ambiguous, no_match or error) / must-halt queries;
- id_no_match = queries whose identifier is in the master that answered no_match (must be 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.accuracy.common import HALT, MATCH, Query


@dataclass
class Tally:
    n: int = 0
    right: int = 0  # matched the right canonical id
    wrong: int = 0  # matched another id, or matched a must-halt query
    halted: int = 0
    id_no_match: int = 0

    def add(self, query: Query, decision: str, canonical_id: str | None) -> None:
        self.n += 1
        if decision == "match":
            if query.expected == MATCH and canonical_id == query.canonical_id:
                self.right += 1
            else:
                self.wrong += 1
        else:
            self.halted += 1
            if decision == "no_match" and query.id_in_master:
                self.id_no_match += 1


@dataclass
class Outcomes:
    """One system's outcomes on one set, by query kind."""

    kinds: dict[str, Tally] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)  # kind -> match | halt

    def add(self, query: Query, decision: str, canonical_id: str | None) -> None:
        known = self.expected.setdefault(query.kind, query.expected)
        if known != query.expected:
            raise ValueError(f"kind {query.kind!r} mixes match and halt queries")
        self.kinds.setdefault(query.kind, Tally()).add(query, decision, canonical_id)

    def summary(self, kinds: list[str] | None = None) -> dict[str, Any]:
        """Metrics over the given kinds (all by default); None where a metric has no queries."""
        chosen = kinds if kinds is not None else list(self.kinds)
        tallies = [(self.expected[k], self.kinds[k]) for k in chosen]
        matches = sum(t.right + t.wrong for _, t in tallies)
        right = sum(t.right for _, t in tallies)
        resolvable = sum(t.n for e, t in tallies if e == MATCH)
        must_halt = sum(t.n for e, t in tallies if e == HALT)
        return {
            "precision": right / matches if matches else None,
            "coverage": sum(t.right for e, t in tallies if e == MATCH) / resolvable
            if resolvable
            else None,
            "halt": sum(t.halted for e, t in tallies if e == HALT) / must_halt
            if must_halt
            else None,
            "matches": matches,
            "queries": sum(t.n for _, t in tallies),
            "resolvable": resolvable,
            "must_halt": must_halt,
            "id_no_match": sum(t.id_no_match for _, t in tallies),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "kinds": {
                k: {"expected": self.expected[k], **asdict(t), **self.summary([k])}
                for k, t in sorted(self.kinds.items())
            },
        }
