"""The decision rule: `match` only for a clear, calibrated winner; otherwise halt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from resolver.types import Decision

#: A top candidate below this calibrated probability, alone, means nothing in the master fits.
NO_MATCH_BELOW = 0.5


class Ranked(Protocol):
    """What the rule reads of a candidate (a `Candidate`, or a scored record not yet one)."""

    @property
    def canonical_id(self) -> str: ...

    @property
    def match_weight(self) -> float: ...


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str


def decide(
    candidates: Sequence[Ranked],
    probability: float,
    threshold: float,
    margin: float,
    tax_id_conflict: bool,
    corroborated: bool = True,
) -> Verdict:
    """Decide on candidates sorted best first; `probability` is the top one's calibrated P.

    A tax id that contradicts the best candidate always halts: the agent named one record
    and identified another, and only a human can tell which it meant.
    """
    if not candidates:
        return Verdict(Decision.NO_MATCH, "no record of the master is close to the query")
    top = candidates[0]
    gap = top.match_weight - candidates[1].match_weight if len(candidates) > 1 else None
    if tax_id_conflict:
        return Verdict(
            Decision.AMBIGUOUS,
            f"the query's tax id and its other fields point to different records"
            f" (best candidate {top.canonical_id})",
        )
    if probability < threshold:
        if probability < NO_MATCH_BELOW and (gap is None or gap >= margin):
            return Verdict(
                Decision.NO_MATCH,
                f"best candidate's probability {probability:.3f} is below {NO_MATCH_BELOW}",
            )
        return Verdict(
            Decision.AMBIGUOUS,
            f"best candidate's probability {probability:.4f} is below the threshold {threshold}",
        )
    if not corroborated:
        return Verdict(
            Decision.AMBIGUOUS,
            f"only one field agrees with {top.canonical_id}: a name alone never identifies"
            " a record",
        )
    if gap is not None and gap < margin:
        runner = candidates[1]
        return Verdict(
            Decision.AMBIGUOUS,
            f"{top.canonical_id} and {runner.canonical_id} are {gap:.1f} apart in match weight"
            f" (margin {margin})",
        )
    return Verdict(Decision.MATCH, f"probability {probability:.4f} ≥ {threshold}, clear winner")
