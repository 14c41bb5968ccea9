"""Each comparison level's SQL (what splink trains with) and its Python twin (what serving
scores with) agree on every pair of values: checked in DuckDB on generated word lists."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.comparisons import abbreviates, level_batch, level_predicate, level_sql
from resolver.profiles import LevelSpec

WORD = st.text(alphabet="abcm", min_size=1, max_size=5)
NAME = st.lists(WORD, min_size=1, max_size=4, unique=True).map(lambda ws: " ".join(sorted(ws)))

LEVELS = [
    LevelSpec(kind="token_prefix", column="name_sorted"),
    LevelSpec(kind="token_subset", column="name_sorted"),
    LevelSpec(kind="token_jaccard", column="name_sorted", threshold=0.5),
    LevelSpec(kind="levenshtein", distance=2),
    LevelSpec(kind="jaro_winkler", threshold=0.9),
]
BATCHED = [*LEVELS, LevelSpec(kind="exact"), LevelSpec(kind="prefix", length=2)]


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.kind)
@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(NAME, NAME), min_size=1, max_size=30))
def test_level_sql_equals_its_python_twin(level: LevelSpec, pairs: list[tuple[str, str]]) -> None:
    column = level.column or "name"
    sql = level_sql(level, column)
    con = duckdb.connect()
    con.execute(f'CREATE TABLE p ("{column}_l" VARCHAR, "{column}_r" VARCHAR)')
    con.executemany("INSERT INTO p VALUES (?, ?)", pairs)
    got = [bool(r[0]) for r in con.execute(f"SELECT {sql} FROM p").fetchall()]
    predicate = level_predicate(level)
    assert got == [predicate(a, b) for a, b in pairs]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("gebr muller techn", "gebruder muller technik", True),
        ("j smith", "john smith", True),
        ("john smith", "j smith", True),
        ("jane smith", "john smith", False),
        ("muller", "muller technik", True),
        ("muller tech solutions", "muller technik", True),
        ("logistica representacos fonse", "logistica repres fonseca viana", True),
        ("muller bau solutions", "muller technik", False),
        ("acme mfg", "acme manufacturing", True),
        ("chevrolet ets", "chevrolet etablissements", True),
        ("bros intl smith", "brothers international smith", True),
        ("acme mg", "acme manufacturing", False),  # two letters are no contraction
        ("acme mfx", "acme manufacturing", False),  # the last letters differ
        ("acme gfm", "acme manufacturing", False),  # the first letters differ
    ],
)
def test_abbreviated_words(a: str, b: str, expected: bool) -> None:
    assert abbreviates(set(a.split()), set(b.split())) is expected


@pytest.mark.parametrize("level", BATCHED, ids=lambda lv: lv.kind)
@settings(max_examples=80, deadline=None)
@given(query=NAME, values=st.lists(st.one_of(st.none(), NAME), min_size=1, max_size=30))
def test_batch_predicate_equals_the_pairwise_one(
    level: LevelSpec, query: str, values: list[str | None]
) -> None:
    """The serving path's batch form of a level (word masks shared across records for the
    abbreviation level) finds exactly the records the pairwise predicate accepts."""
    pair = level_predicate(level)
    pending = [i for i, v in enumerate(values) if v is not None]
    words = {i: set((values[i] or "").split(" ")) for i in pending}
    got = level_batch(level)(query, pending, values, words.__getitem__)
    assert got == [i for i in pending if pair(query, values[i] or "")]
