"""The decision rule, whole: `match` only for a clear, calibrated winner; otherwise halt.

Everything that can turn a ranking into a halt lives here, as pure functions over plain values,
so that the rule can be read in one place and tested as a table of named cases
(`tests/resolver/test_decision.py`):

1. **Identifier veto.** The query's identifier (tax id) is compared with the top candidate's
   (`identifier_relation`). An exact agreement is evidence *for* the top candidate and is never
   vetoed by name sub-weights. A contradiction is evidence that the identifier belongs to
   *another* record: another candidate owns it, or the top candidate holds a different id that
   is not a plausible typo of it (a valid id of its own, or more than one edit away). When the
   identifier picked the top candidate but the query's name does not agree with that record's
   at all while it clearly agrees with another record's, the query names one record and
   identifies another (`name_points_elsewhere`): a halt.
2. **Not in the master.** `no_match` means "nothing in the master is plausibly this record",
   decided by how far the candidates are from the query, never by a probability under some
   bar (which only says "not sure"): no candidate shares an identifier with the query, none
   comes within the profile's name floor (`decision.plausible_name_bits`), and the query's
   identifier belongs to no record of the master (a known tax id is at least `ambiguous`:
   answering `no_match` would let an agent create it a second time). Low confidence with a
   plausible candidate is `ambiguous`.
3. **Threshold.** The top candidate's calibrated probability must reach the entity type's
   threshold.
4. **Evidence.** At least `min_evidence` agreeing fields (an identifier counts two, and so does
   a name written exactly as the record's, whose rarity the term-frequency weight already
   prices): a similar name alone never identifies a record.
5. **Entity type.** A query that names no entity type and fits records of two (another
   canonical id reaching its own threshold) halts: the agent must say which it means.
6. **Margin.** The top candidate must lead the runner-up (another canonical id, of any entity
   type) by the margin, in match-weight bits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from rapidfuzz.distance import OSA

from resolver.types import Decision

#: How much more a name must agree with another record than with the identifier's owner, whose
#: name does not agree at all, before the query is taken to name one record and identify another.
NAME_CONFLICT_BITS = 3.0
#: Edits (insert, delete, substitute, swap two neighbours) within which two identifiers may be
#: one id mistyped rather than two ids.
TYPO_EDITS = 1


class Ranked(Protocol):
    """What the rule reads of a candidate (a `Candidate`, or a scored record not yet one)."""

    @property
    def canonical_id(self) -> str: ...

    @property
    def match_weight(self) -> float: ...


class IdentifierRelation(StrEnum):
    """How the query's identifier relates to the top candidate's."""

    ABSENT = "absent"  # the query or the top candidate has no identifier to compare
    AGREES = "agrees"  # the same identifier
    TYPO = "typo"  # one edit apart, and not two valid ids: may be one id mistyped
    CONTRADICTS = "contradicts"  # a different id of the top candidate's own
    OWNED_BY_OTHER = "owned_by_other"  # another candidate holds exactly the query's id


@dataclass(frozen=True)
class Evidence:
    """What the rule reads beyond the ranking."""

    probability: float  # the top candidate's calibrated probability
    threshold: float
    margin: float  # match-weight bits the top must lead the runner-up by
    identifier: IdentifierRelation = IdentifierRelation.ABSENT
    #: The query's identifier belongs to some record of the master (searched by key).
    identifier_in_master: bool = False
    #: Some candidate shares an identifier with the query or passes the name floor.
    plausible: bool = False
    corroborated: bool = True  # enough agreeing fields (see `evidence_count`)
    #: The query's name disagrees with the identifier's owner and agrees with another record.
    name_elsewhere: bool = False
    #: A query that named no entity type fits a record of another type as well (another
    #: canonical id reaching its own type's threshold): a supplier and a customer, an
    #: employee and a contact.
    other_type: str | None = None
    #: Only the name agrees with the top candidate, and another record's name is close too
    #: (above the plausibility floor): a look-alike the agent may have meant.
    name_only_rival: bool = False


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str


def identifier_relation(
    query_id: str | None,
    top_id: str | None,
    other_ids: Sequence[str | None],
    is_valid: Callable[[str], bool],
) -> IdentifierRelation:
    """Relate the query's (normalised) identifier to the top candidate's.

    `other_ids` are the identifiers of the other candidates (other canonical ids); `is_valid`
    says whether an id passes its scheme's check digits (python-stdnum).
    """
    if not query_id:
        return IdentifierRelation.ABSENT
    if top_id == query_id:
        return IdentifierRelation.AGREES
    if any(other == query_id for other in other_ids):
        return IdentifierRelation.OWNED_BY_OTHER
    if not top_id:
        return IdentifierRelation.ABSENT
    both_valid = is_valid(query_id) and is_valid(top_id)
    if not both_valid and OSA.distance(query_id, top_id, score_cutoff=TYPO_EDITS) <= TYPO_EDITS:
        return IdentifierRelation.TYPO
    return IdentifierRelation.CONTRADICTS


def name_points_elsewhere(top_name: float | None, other_names: Sequence[float | None]) -> bool:
    """Whether the query's name weighs against the top candidate (its name level does not
    agree: a weight ≤ 0) while it agrees with another record by NAME_CONFLICT_BITS more.
    A similar name (positive weight) on the top candidate is never overruled this way."""
    if top_name is None or top_name > 0:
        return False
    return any(w is not None and w > max(top_name, 0.0) + NAME_CONFLICT_BITS for w in other_names)


def decide(candidates: Sequence[Ranked], evidence: Evidence) -> Verdict:
    """Decide on candidates sorted best first, one per canonical id."""
    e = evidence
    if not candidates:
        if e.identifier_in_master:
            return Verdict(
                Decision.AMBIGUOUS,
                "the query's tax id belongs to a record of the master, but no candidate fits",
            )
        return Verdict(Decision.NO_MATCH, "no record of the master is close to the query")
    top = candidates[0]
    gap = top.match_weight - candidates[1].match_weight if len(candidates) > 1 else None
    if e.identifier is IdentifierRelation.OWNED_BY_OTHER:
        return Verdict(
            Decision.AMBIGUOUS,
            f"the query's tax id belongs to another record than the best candidate"
            f" {top.canonical_id}",
        )
    if e.identifier is IdentifierRelation.CONTRADICTS:
        return Verdict(
            Decision.AMBIGUOUS,
            f"the query's tax id contradicts the best candidate {top.canonical_id}'s own",
        )
    if e.name_elsewhere and e.identifier in (IdentifierRelation.AGREES, IdentifierRelation.TYPO):
        return Verdict(
            Decision.AMBIGUOUS,
            f"the query's tax id points to {top.canonical_id}, its name to another record",
        )
    if e.other_type is not None and e.probability >= e.threshold:
        return Verdict(
            Decision.AMBIGUOUS,
            f"the query fits {top.canonical_id} and a record of another entity type"
            f" ({e.other_type}): name the entity type",
        )
    if e.probability < e.threshold:
        if not e.plausible and not e.identifier_in_master:
            return Verdict(
                Decision.NO_MATCH,
                "no candidate is plausibly this record: none shares an identifier with the"
                " query or comes close to its name",
            )
        return Verdict(
            Decision.AMBIGUOUS,
            f"best candidate's probability {e.probability:.4f} is below the threshold"
            f" {e.threshold}",
        )
    if not e.corroborated:
        return Verdict(
            Decision.AMBIGUOUS,
            f"only one field agrees with {top.canonical_id}: a name alone never identifies"
            " a record",
        )
    if e.name_only_rival:
        return Verdict(
            Decision.AMBIGUOUS,
            f"only the name agrees with {top.canonical_id}, and another record's name is"
            " close to it too: a look-alike the query may mean",
        )
    if gap is not None and gap < e.margin:
        runner = candidates[1]
        return Verdict(
            Decision.AMBIGUOUS,
            f"{top.canonical_id} and {runner.canonical_id} are {gap:.1f} apart in match weight"
            f" (margin {e.margin})",
        )
    return Verdict(Decision.MATCH, f"probability {e.probability:.4f} ≥ {e.threshold}, clear winner")


def lookalike_near(other_names: Sequence[float | None], lookalike_bits: float) -> bool:
    """Whether another record's name weighs more than `lookalike_bits` against the query: an
    abbreviated, reordered or misspelt form of the same words, not a merely similar name."""
    return any(w is not None and w > lookalike_bits for w in other_names)


def exact_names(
    top_names: Mapping[str, float],
    exact: Sequence[str],
    lookalike: bool,
    lookalike_bits: float,
    contradicted: bool = False,
) -> list[str]:
    """The comparisons that weigh as exact: those at their exact level, and, when no other
    record is a look-alike and no field of the query contradicts the top candidate, a name at
    a near level (weighing more than `lookalike_bits`): one misspelt or abbreviated name that
    nothing else in the master resembles."""
    promote = not lookalike and not contradicted
    near = [c for c, w in top_names.items() if w > lookalike_bits] if promote else []
    return list(exact) + [c for c in near if c not in exact]


def evidence_count(
    agreeing: Sequence[str], identifiers: Sequence[str], exact: Sequence[str] = ()
) -> float:
    """How much the fields that agree with the query weigh: an identifier two; a name
    (`name`, `person_name`…) two at its exact level and one at a near level; any other field
    one at its exact level and a half at a near one (a birth date one digit off, a similar
    city: a hint, not a second witness)."""

    def counts(comparison: str) -> float:
        if comparison in identifiers:
            return 2.0
        is_name = comparison == "name" or comparison.endswith("_name")
        if is_name:
            return 2.0 if comparison in exact else 1.0
        return 1.0 if comparison in exact else 0.5

    return sum(counts(c) for c in agreeing)
