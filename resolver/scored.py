"""A scored record, light until it is returned.

A resolve scores dozens of records per entity type and returns five; the decision rule reads a
few fields of the others (their tax id and name agreement). `Scored` answers those from the
vectorised scores and builds the full `Candidate` (display fields, per-field explanation) only
for what the response carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from resolver.scoring import MISSING, RowScores, match_probability
from resolver.serving import ServedType
from resolver.types import Candidate, FieldExplanation

Record = dict[str, str | None]


@dataclass
class Scored:
    """One record of one entity type, with its match weight for the query."""

    served: ServedType
    row: int
    weight: float  # the full-precision match weight
    query: Record
    scores: RowScores | None = None  # None for key-matched entity types
    j: int = 0  # this record's position in `scores`

    @property
    def entity_type(self) -> str:
        return self.served.name

    @property
    def match_weight(self) -> float:
        """The weight as the response states it (6 decimals); decisions use this one."""
        return round(self.weight, 6)

    @cached_property
    def canonical_id(self) -> str:
        return self.served.index.id_of(self.row)

    @cached_property
    def display(self) -> dict[str, str | None]:
        return dict(self.served.index.raw(self.row, self.served.spec.display))

    @cached_property
    def explanation(self) -> list[FieldExplanation]:
        model = self.served.model
        if model is None or self.scores is None:
            return []
        return list(model.explain(self.query, self.served.index, self.scores, self.j))

    def part(self, comparison: str) -> tuple[str | None, float]:
        """The candidate's value and weight on a comparison (or one named `<x>_<comparison>`,
        as person_name for name), without building the whole explanation."""
        model = self.served.model
        if model is None or self.scores is None:
            return None, 0.0
        for k, comp in enumerate(model.comparisons):
            if comp.name == comparison or comp.name.endswith("_" + comparison):
                column = self.served.index.column(comp.column)
                value = column.value(self.row) if column is not None else None
                if int(self.scores.levels[k][self.j]) == MISSING:
                    return value, 0.0
                return value, round(float(self.scores.parts[k][self.j]), 6)
        return None, 0.0

    def candidate(self) -> Candidate:
        """The full candidate of the response."""
        index, spec = self.served.index, self.served.spec
        return Candidate(
            entity_type=self.entity_type,
            canonical_id=self.canonical_id,
            native_key=index.raw(self.row, spec.native_key),
            display=self.display,
            match_weight=self.match_weight,
            probability=1.0 if self.scores is None else match_probability(self.weight),
            explanation=self.explanation,
        )
