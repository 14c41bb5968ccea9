"""Comparison levels, twice: as splink SQL for training and as Python for the serving path.

Both sides of a level must agree on every pair (the parity test holds them to it), so each
level kind is defined here once, in both forms, next to each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rapidfuzz.distance import JaroWinkler, Levenshtein

from resolver.profiles import ComparisonSpec, LevelSpec

Predicate = Callable[[str, str], bool]
#: (query value, pending record positions, their column's values, word set of a position)
#: -> the positions whose value reaches the level; the same truth as the level's Predicate.
BatchPredicate = Callable[
    [str, list[int], Sequence[str | None], Callable[[int], set[str]]], list[int]
]


def _q(column: str, side: str, dialect: str = "duckdb") -> str:
    """A quoted column of the left or right record (Spark SQL quotes names with backticks)."""
    return f"`{column}_{side}`" if dialect == "spark" else f'"{column}_{side}"'


#: SQL dialects the levels are written for (splink's backends).
Dialect = str
DUCKDB = "duckdb"
SPARK = "spark"


def _tokens_sql(column: str, side: str, dialect: Dialect) -> str:
    # Token levels run on columns of distinct words (name_sorted), so no list_distinct: it
    # would cost more than the comparison itself in u sampling.
    if dialect == SPARK:
        return f"split({_q(column, side, dialect)}, ' ')"
    return f"string_split({_q(column, side)}, ' ')"


def level_sql(level: LevelSpec, column: str, dialect: Dialect = DUCKDB) -> str:
    """The splink SQL condition of a level on normalised column values.

    Written for speed over the millions of random pairs of u sampling, where nearly every
    level is evaluated: an edit distance is computed only when the lengths allow it, a subset
    test looks for the shorter word list in the longer one (the lists hold distinct words, so
    that is the whole test), and Jaccard's ratio is compared without a second intersection.
    """
    col = level.column or column
    left, right = _q(col, "l", dialect), _q(col, "r", dialect)
    if level.kind == "exact":
        return f"{left} = {right}"
    if level.kind == "jaro_winkler":
        fn = "jaro_winkler" if dialect == SPARK else "jaro_winkler_similarity"
        return f"{fn}({left}, {right}) >= {level.threshold}"
    if level.kind == "levenshtein":
        d = level.distance
        return (
            f"CASE WHEN abs(length({left}) - length({right})) <= {d}"
            f" THEN levenshtein({left}, {right}) <= {d} ELSE false END"
        )
    if level.kind == "prefix":
        n = level.length
        return f"substr({left}, 1, {n}) = substr({right}, 1, {n})"
    tl, tr = _tokens_sql(col, "l", dialect), _tokens_sql(col, "r", dialect)
    size = "size" if dialect == SPARK else "len"
    if level.kind == "token_prefix":
        short = _contraction_sql("x", "y", dialect) + " OR " + _contraction_sql("y", "x", dialect)
        if dialect == SPARK:
            inside = (
                "forall({a}, x -> exists({b}, y -> substring(y, 1, length(x)) = x"
                " OR substring(x, 1, length(y)) = y OR " + short + "))"
            )
        else:
            inside = (
                "list_bool_and(list_transform({a},"
                " lambda x: list_bool_or(list_transform({b},"
                " lambda y: starts_with(y, x) OR starts_with(x, y) OR " + short + "))))"
            )
        a_in_b, b_in_a = inside.format(a=tl, b=tr), inside.format(a=tr, b=tl)
        return f"({a_in_b}) OR ({b_in_a})"
    if level.kind == "token_subset":
        if dialect == SPARK:
            inside = "size(array_except({a}, {b})) = 0"
            a_in_b, b_in_a = inside.format(a=tl, b=tr), inside.format(a=tr, b=tl)
        else:
            a_in_b, b_in_a = f"list_has_all({tr}, {tl})", f"list_has_all({tl}, {tr})"
        return f"CASE WHEN {size}({tl}) <= {size}({tr}) THEN {a_in_b} ELSE {b_in_a} END"
    # token_jaccard: |A∩B| / |A∪B| >= t  ⟺  |A∩B|·(1+t) >= t·(|A|+|B|) for sets A, B
    t = float(level.threshold or 0.0)
    intersect = "array_intersect" if dialect == SPARK else "list_intersect"
    return (
        f"CAST({size}({intersect}({tl}, {tr})) AS DOUBLE) * {1.0 + t!r}"
        f" >= {t!r} * CAST({size}({tl}) + {size}({tr}) AS DOUBLE)"
    )


def _contraction_sql(v: str, w: str, dialect: Dialect) -> str:
    """SQL of `contracts(v, w)`: the cheap tests first (a CASE, so that the pattern, built
    from `v`'s letters, is matched only for the few word pairs that pass them)."""
    if dialect == SPARK:
        pattern = f"concat('^', regexp_replace({v}, '(.)', '$1.*'), '$')"
        match = f"{w} rlike {pattern}"
        last = f"substring({v}, -1, 1) = substring({w}, -1, 1)"
    else:
        pattern = f"regexp_replace({v}, '(.)', '\\1.*', 'g')"
        match = f"regexp_full_match({w}, {pattern})"
        last = f"right({v}, 1) = right({w}, 1)"
    return (
        f"(CASE WHEN length({v}) >= {MIN_CONTRACTION} AND length({v}) < length({w})"
        f" AND substring({v}, 1, 1) = substring({w}, 1, 1) AND {last}"
        f" THEN {match} ELSE false END)"
    )


def level_predicate(level: LevelSpec) -> Predicate:
    """The Python twin of `level_sql`: the same truth on the same two non-null values."""
    if level.kind == "exact":
        return lambda a, b: a == b
    if level.kind == "jaro_winkler":
        threshold = float(level.threshold or 0.0)
        return lambda a, b: JaroWinkler.similarity(a, b) >= threshold
    if level.kind == "levenshtein":
        distance = int(level.distance or 0)
        return lambda a, b: Levenshtein.distance(a, b, score_cutoff=distance) <= distance
    if level.kind == "prefix":
        n = int(level.length or 1)
        return lambda a, b: a[:n] == b[:n]
    if level.kind == "token_prefix":
        return lambda a, b: abbreviates(set(a.split(" ")), set(b.split(" ")))
    if level.kind == "token_subset":

        def subset(a: str, b: str) -> bool:
            sa, sb = set(a.split(" ")), set(b.split(" "))
            return sa <= sb or sb <= sa

        return subset
    return jaccard_predicate(float(level.threshold or 0.0))


def level_batch(level: LevelSpec) -> BatchPredicate:
    """`level_predicate` over many records at once (for the serving path): the same
    per-pair arithmetic, without a Python call per pair and with each record's word set
    computed once for all token levels."""
    if level.kind == "exact":
        return lambda a, rows, values, _words: [i for i in rows if values[i] == a]
    if level.kind == "prefix":
        n = int(level.length or 1)

        def prefix(a: str, rows: list[int], values: Sequence[str | None], _w: Any) -> list[int]:
            head = a[:n]
            return [i for i in rows if (v := values[i]) is not None and v[:n] == head]

        return prefix
    if level.kind in ("jaro_winkler", "levenshtein"):
        pair = level_predicate(level)
        return lambda a, rows, values, _words: [
            i for i in rows if (v := values[i]) is not None and pair(a, v)
        ]
    if level.kind == "token_prefix":

        def prefixes(
            a: str, rows: list[int], _v: Any, words: Callable[[int], set[str]]
        ) -> list[int]:
            # `abbreviates` per record, with `close` decided once per distinct record word:
            # each word maps to the set (a bit mask) of query words it is close to. One set
            # is inside the other when the record's masks cover every query word, or when no
            # record word has an empty mask (`close` is symmetric).
            asked = tuple(set(a.split(" ")))
            every = (1 << len(asked)) - 1
            near: dict[str, int] = {}
            out = []
            for i in rows:
                cover, each = 0, True
                for w in words(i):
                    mask = near.get(w)
                    if mask is None:
                        mask = near[w] = sum(1 << k for k, v in enumerate(asked) if _close(v, w))
                    cover |= mask
                    each = each and mask != 0
                if cover == every or each:
                    out.append(i)
            return out

        return prefixes
    if level.kind == "token_subset":

        def subset(a: str, rows: list[int], _v: Any, words: Callable[[int], set[str]]) -> list[int]:
            sa = set(a.split(" "))
            return [i for i in rows if sa <= (sb := words(i)) or sb <= sa]

        return subset
    threshold = float(level.threshold or 0.0)
    factor = 1.0 + threshold

    def jaccard(a: str, rows: list[int], _v: Any, words: Callable[[int], set[str]]) -> list[int]:
        sa = set(a.split(" "))
        size = len(sa)
        return [
            i
            for i in rows
            if float(len(sa & (sb := words(i)))) * factor >= threshold * float(size + len(sb))
        ]

    return jaccard


#: The shortest word read as a contraction (`mfg`, `ets`, `cia`): two letters match too much.
MIN_CONTRACTION = 3


def contracts(v: str, w: str) -> bool:
    """Whether `v` is a contraction of the longer `w`: its first and last letters, and its
    letters in order (`mfg` manufacturing, `intl` international, `ets` etablissements, `bros`
    brothers, `cia` companhia)."""
    if len(v) < MIN_CONTRACTION or len(v) >= len(w) or v[0] != w[0] or v[-1] != w[-1]:
        return False
    rest = iter(w)
    return all(letter in rest for letter in v)


def abbreviates(a: set[str], b: set[str]) -> bool:
    """Whether every word of one set begins, is begun by, or contracts or is contracted from
    some word of the other: words abbreviated (`gebr muller techn` and `gebruder muller
    technik`; `j smith` and `john smith`; `acme mfg` and `acme manufacturing`) or cut short
    by a field's width (`representacoes fonse` and `repres fonseca`)."""

    def inside(x: set[str], y: set[str]) -> bool:
        return all(any(_close(v, w) for w in y) for v in x)

    return inside(a, b) or inside(b, a)


def _close(v: str, w: str) -> bool:
    """Whether one word begins the other or contracts it (a symmetric relation)."""
    if v[:1] != w[:1]:  # every way of being close keeps the first letter
        return not v or not w  # but an empty word begins every word
    return w.startswith(v) or v.startswith(w) or contracts(v, w) or contracts(w, v)


def jaccard_predicate(threshold: float) -> Predicate:
    """Jaccard similarity of two word sets ≥ threshold, in the SQL's arithmetic."""
    factor = 1.0 + threshold

    def jaccard(a: str, b: str) -> bool:
        sa, sb = set(a.split(" ")), set(b.split(" "))
        return float(len(sa & sb)) * factor >= threshold * float(len(sa) + len(sb))

    return jaccard


def level_columns(spec: ComparisonSpec) -> list[str]:
    """The columns a comparison reads, main column first."""
    cols = [spec.column]
    for level in spec.levels:
        if level.column and level.column not in cols:
            cols.append(level.column)
    return cols


def splink_comparison(name: str, spec: ComparisonSpec, dialect: Dialect = DUCKDB) -> dict[str, Any]:
    """A splink comparison dict: null level, the profile's levels, else."""
    main = spec.column
    left, right = _q(main, "l", dialect), _q(main, "r", dialect)
    levels: list[dict[str, Any]] = [
        {
            "sql_condition": f"{left} IS NULL OR {right} IS NULL",
            "label_for_charts": "missing",
            "is_null_level": True,
        }
    ]
    for level in spec.levels:
        entry: dict[str, Any] = {
            "sql_condition": level_sql(level, main, dialect),
            "label_for_charts": level.label or level.kind,
        }
        if level.tf:
            entry["tf_adjustment_column"] = level.column or main
            entry["tf_adjustment_weight"] = 1.0
        levels.append(entry)
    levels.append({"sql_condition": "ELSE", "label_for_charts": "different"})
    if spec.fixed_m is not None:
        for entry, m in zip(levels[1:], spec.fixed_m, strict=True):
            entry["m_probability"] = m
            entry["fix_m_probability"] = True
    return {
        "output_column_name": name,
        "comparison_description": f"{name} on {main}",
        "comparison_levels": levels,
    }
