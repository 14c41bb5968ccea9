"""The decision rule as a table: each named case gives the ranking and evidence and the exact
decision the rule must reach. Removing any branch of `resolver.decision.decide` (identifier
veto, no_match on a known identifier, threshold, evidence, margin) fails a row here."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from stdnum.br import cnpj

from resolver.decision import (
    Evidence,
    IdentifierRelation,
    decide,
    evidence_count,
    exact_names,
    identifier_relation,
    lookalike_near,
    name_points_elsewhere,
)
from resolver.types import Decision

M, A, N = Decision.MATCH, Decision.AMBIGUOUS, Decision.NO_MATCH
R = IdentifierRelation


@dataclass(frozen=True)
class C:
    canonical_id: str
    match_weight: float


def ranked(*weights: float) -> list[C]:
    return [C(f"id{k}", w) for k, w in enumerate(weights)]


def ev(p: float, **kw: object) -> Evidence:
    base: dict[str, object] = {"threshold": 0.9, "margin": 3.0}
    base.update(kw)
    return Evidence(probability=p, **base)  # type: ignore[arg-type]


DECISIONS = [
    # name, candidates' weights, evidence, decision, words of the reason
    ("nothing found", (), ev(0.0), N, "no record"),
    ("nothing found but the id is known", (), ev(0.0, identifier_in_master=True), A, "belongs"),
    ("clear winner", (20.0, 5.0), ev(0.99), M, "clear winner"),
    ("single candidate above threshold", (20.0,), ev(0.99), M, "clear winner"),
    ("runner-up within the margin", (20.0, 18.0), ev(0.99), A, "apart"),
    ("runner-up exactly at the margin", (20.0, 17.0), ev(0.99), M, "clear winner"),
    ("below threshold, nothing plausible", (5.0, -10.0), ev(0.7), N, "no candidate is plausibly"),
    ("below threshold, a plausible one", (5.0, -10.0), ev(0.7, plausible=True), A, "threshold"),
    ("improbable and implausible", (-5.0, -20.0), ev(0.1), N, "no candidate is plausibly"),
    ("improbable alone", (-5.0,), ev(0.1), N, "no candidate is plausibly"),
    (
        "improbable but plausible: not sure is not absent",
        (-5.0,),
        ev(0.1, plausible=True),
        A,
        "below the threshold",
    ),  # fmt: skip
    (
        "improbable but the id is in the master",
        (-5.0, -20.0),
        ev(0.1, identifier_in_master=True),
        A,
        "below the threshold",
    ),
    ("a name alone", (20.0, 5.0), ev(0.99, corroborated=False), A, "name alone"),
    (
        "id agrees with the top: no veto",
        (20.0, 5.0),
        ev(0.99, identifier=R.AGREES, identifier_in_master=True),
        M,
        "clear winner",
    ),
    ("id one typo off the top's", (20.0, 5.0), ev(0.99, identifier=R.TYPO), M, "clear winner"),
    (
        "id contradicts the top's",
        (20.0, 5.0),
        ev(0.99, identifier=R.CONTRADICTS),
        A,
        "contradicts",
    ),
    (
        "id owned by another candidate",
        (20.0, 5.0),
        ev(0.99, identifier=R.OWNED_BY_OTHER, identifier_in_master=True),
        A,
        "another record",
    ),
    (
        "id picks the top, the name another record",
        (2.0, -4.0),
        ev(0.99, identifier=R.AGREES, name_elsewhere=True),
        A,
        "its name to another record",
    ),
    (
        "only the name agrees, and a look-alike's name is close",
        (20.0, 10.0),
        ev(0.99, name_only_rival=True),
        A,
        "look-alike",
    ),
    (
        "untyped query fitting a supplier and a customer",
        (20.0, 5.0),
        ev(0.99, other_type="customer"),
        A,
        "another entity type (customer)",
    ),
    (
        "name elsewhere without an identifier: the margin decides",
        (20.0, 5.0),
        ev(0.99, name_elsewhere=True),
        M,
        "clear winner",
    ),
]


@pytest.mark.parametrize(
    ("weights", "evidence", "decision", "words"),
    [pytest.param(w, e, d, words, id=name) for name, w, e, d, words in DECISIONS],
)
def test_decision_table(
    weights: tuple[float, ...], evidence: Evidence, decision: Decision, words: str
) -> None:
    verdict = decide(ranked(*weights), evidence)
    assert verdict.decision is decision
    assert words in verdict.reason


VALID = "11222333000181"
BRANCH = "11222333000262"  # the same root, another valid branch
assert cnpj.is_valid(VALID) and cnpj.is_valid(BRANCH)


def _valid(value: str) -> bool:
    return cnpj.is_valid(value)


RELATIONS = [
    ("query has no id", None, VALID, [], R.ABSENT),
    ("top has no id", VALID, None, [], R.ABSENT),
    ("same id", VALID, VALID, [BRANCH], R.AGREES),
    ("same id also on a runner-up", VALID, VALID, [VALID], R.AGREES),
    ("runner-up owns the id", VALID, BRANCH, [VALID], R.OWNED_BY_OTHER),
    ("another valid id (a branch)", VALID, BRANCH, [], R.CONTRADICTS),
    ("query id mistyped (invalid, one digit off)", "11222333000191", VALID, [], R.TYPO),
    ("two neighbours swapped", "11223233000181", VALID, [], R.TYPO),
    ("ids without check digits one digit off", "1234567", "1234568", [], R.TYPO),
    ("ids without check digits two digits off", "1234567", "1234599", [], R.CONTRADICTS),
]


@pytest.mark.parametrize(
    ("query_id", "top_id", "others", "relation"),
    [pytest.param(q, t, o, r, id=name) for name, q, t, o, r in RELATIONS],
)
def test_identifier_relation(
    query_id: str | None, top_id: str | None, others: list[str], relation: IdentifierRelation
) -> None:
    assert identifier_relation(query_id, top_id, others, _valid) is relation


NAMES = [
    ("similar name on the top: never overruled", 1.5, [20.0], False),
    ("top's name differs, another's agrees", -4.9, [5.6], True),
    ("top's name differs, another's barely better", -4.9, [-2.0], False),
    ("top's name differs, nobody's agrees", -4.9, [-4.9, -1.5], False),
    ("no name to compare", None, [5.0], False),
]


@pytest.mark.parametrize(
    ("top", "others", "elsewhere"),
    [pytest.param(t, o, x, id=name) for name, t, o, x in NAMES],
)
def test_name_points_elsewhere(top: float | None, others: list[float], elsewhere: bool) -> None:
    assert name_points_elsewhere(top, others) is elsewhere


def test_evidence_counts_an_identifier_twice() -> None:
    assert evidence_count(["name"], ["tax_id"]) == 1
    assert evidence_count(["name", "city"], ["tax_id"], exact=["city"]) == 2
    assert evidence_count(["tax_id"], ["tax_id"]) == 2
    assert evidence_count(["email", "name"], ["email"]) == 3
    # A name written exactly as the record's counts two; a similar one, or an exact city, one.
    assert evidence_count(["name"], ["tax_id"], exact=["name"]) == 2
    assert evidence_count(["person_name"], [], exact=["person_name"]) == 2
    assert evidence_count(["city"], ["tax_id"], exact=["city"]) == 1


def test_a_near_level_of_another_field_is_a_hint_not_a_second_witness() -> None:
    # A misspelt name and a birth date one digit off: 1 + 0.5, short of the two a match needs.
    assert evidence_count(["person_name", "birth_date"], [], exact=[]) == 1.5
    assert evidence_count(["person_name", "birth_date"], [], exact=["birth_date"]) == 2


LOOKALIKES = [
    ("a merely similar name elsewhere (+4.9) is no look-alike", [4.9, -5.5], False),
    ("an abbreviated form of the same words (+8) is", [8.0, 4.9], True),
    ("nobody's name agrees", [-5.5, -16.0], False),
    ("a candidate without a name", [None], False),
]


@pytest.mark.parametrize(
    ("others", "near"), [pytest.param(o, n, id=name) for name, o, n in LOOKALIKES]
)
def test_a_lookalike_is_another_record_whose_name_weighs_above_the_floor(
    others: list[float | None], near: bool
) -> None:
    assert lookalike_near(others, 7.0) is near


EXACT = [
    ("exact level counts whatever is near", {"name": 17.6}, ["name"], True, ["name"]),
    ("a misspelt name nothing resembles weighs as exact", {"name": 14.5}, [], False, ["name"]),
    ("a misspelt name with a look-alike near does not", {"name": 14.5}, [], True, []),
    ("a merely similar name never does", {"name": 4.9}, [], False, []),
    ("given and family names each on their own", {"given_name": 9.0, "family_name": 3.0}, [],
     False, ["given_name"]),
]  # fmt: skip


def test_a_near_name_is_not_promoted_when_another_field_contradicts_the_record() -> None:
    assert exact_names({"name": 14.5}, [], lookalike=False, lookalike_bits=7.0) == ["name"]
    assert exact_names({"name": 14.5}, [], False, 7.0, contradicted=True) == []
    assert exact_names({"name": 17.6}, ["name"], False, 7.0, contradicted=True) == ["name"]


@pytest.mark.parametrize(
    ("weights", "exact", "lookalike", "counted"),
    [pytest.param(w, e, look, c, id=name) for name, w, e, look, c in EXACT],
)
def test_exact_names(
    weights: dict[str, float], exact: list[str], lookalike: bool, counted: list[str]
) -> None:
    assert exact_names(weights, exact, lookalike, 7.0) == counted


def test_a_misspelt_unique_name_alone_is_corroborated_a_lookalike_keeps_it_at_one() -> None:
    alone = exact_names({"name": 14.5}, [], lookalike=False, lookalike_bits=7.0)
    assert evidence_count(["name"], ["tax_id"], exact=alone) == 2
    crowded = exact_names({"name": 14.5}, [], lookalike=True, lookalike_bits=7.0)
    assert evidence_count(["name"], ["tax_id"], exact=crowded) == 1
