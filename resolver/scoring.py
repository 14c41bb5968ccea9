"""The serving-path scorer: a trained splink model compiled to Python over normalised values.

For the same pair of normalised records it gives splink's own match weight (the parity test
holds it to 1e-6): the same levels in the same order, the same clamped weights, the same
term-frequency adjustment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from resolver.comparisons import BatchPredicate, Predicate, level_batch, level_predicate
from resolver.profiles import LevelSpec
from resolver.types import FieldExplanation

if TYPE_CHECKING:
    from resolver.index import ServingIndex

TfTables = Mapping[str, Mapping[str, float]]

Record = dict[str, str | None]


@dataclass(frozen=True)
class CompiledLevel:
    label: str
    column: str
    predicate: Predicate
    batch: BatchPredicate
    match_weight: float
    tf_column: str | None
    tf_log2_u_exact: float
    tf_weight: float
    tf_min_u: float


@dataclass(frozen=True)
class CompiledComparison:
    name: str
    column: str
    levels: tuple[CompiledLevel, ...]
    else_label: str
    else_weight: float


@dataclass(frozen=True)
class Score:
    """A pair's match weight and the level each comparison reached."""

    match_weight: float
    explanation: tuple[FieldExplanation, ...]

    @property
    def probability(self) -> float:
        return match_probability(self.match_weight)


def match_probability(match_weight: float) -> float:
    """splink's probability from a match weight: 1 / (1 + 2^-w)."""
    if match_weight < -1000:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -match_weight)) if match_weight < 1000 else 1.0


@dataclass(frozen=True)
class RowScores:
    """Match weights of one query against some records, and what each comparison gave."""

    rows: np.ndarray  # record positions
    weights: np.ndarray  # total match weight per record
    levels: tuple[np.ndarray, ...]  # per comparison: level reached (-1 missing, len = else)
    parts: tuple[np.ndarray, ...]  # per comparison: its weight per record


MISSING = -1


class CompiledModel:
    """One entity type's trained model, ready to score query/record pairs in memory."""

    def __init__(
        self, compiled: dict[str, Any], tf_tables: TfTables | Callable[[], TfTables] | None = None
    ):
        self.prior_match_weight: float = float(compiled["prior_match_weight"])
        self._tf_tables = tf_tables
        comparisons = []
        for comp in compiled["comparisons"]:
            levels: list[CompiledLevel] = []
            else_label, else_weight = "different", 0.0
            for level in comp["levels"]:
                if level["null"]:
                    continue
                if level["else"]:
                    else_label, else_weight = level["label"], float(level["match_weight"])
                    continue
                spec = LevelSpec.model_validate(level["level"])
                tf = level["tf"]
                levels.append(
                    CompiledLevel(
                        label=level["label"],
                        column=spec.column or comp["column"],
                        predicate=level_predicate(spec),
                        batch=level_batch(spec),
                        match_weight=float(level["match_weight"]),
                        tf_column=tf["column"] if tf else None,
                        tf_log2_u_exact=math.log2(tf["u_exact"]) if tf else 0.0,
                        tf_weight=float(tf["weight"]) if tf else 0.0,
                        tf_min_u=float(tf["min_u"]) if tf else 0.0,
                    )
                )
            comparisons.append(
                CompiledComparison(
                    comp["name"], comp["column"], tuple(levels), else_label, else_weight
                )
            )
        self.comparisons: tuple[CompiledComparison, ...] = tuple(comparisons)

    def columns(self) -> list[str]:
        """Every normalised column the model reads."""
        cols: list[str] = []
        for comp in self.comparisons:
            for col in [comp.column, *(lv.column for lv in comp.levels)]:
                if col not in cols:
                    cols.append(col)
        return cols

    @property
    def tf_tables(self) -> TfTables:
        """Term-frequency tables (value -> frequency), for scoring single pairs."""
        if callable(self._tf_tables):
            self._tf_tables = self._tf_tables()
        return self._tf_tables or {}

    def _tf_adjustment(self, level: CompiledLevel, a: str, b: str) -> float:
        table = self.tf_tables.get(level.tf_column or "", {})
        tf_l, tf_r = table.get(a), table.get(b)
        if tf_l is None and tf_r is None:
            return 0.0
        left = tf_l if tf_l is not None else tf_r
        right = tf_r if tf_r is not None else tf_l
        u = max(left or 0.0, right or 0.0, level.tf_min_u)
        return level.tf_weight * (level.tf_log2_u_exact - math.log2(u))

    def score(self, query: Record, record: Record, explain: bool = True) -> Score:
        """Match weight of a pair, with the level reached per comparison."""
        total = self.prior_match_weight
        parts: list[FieldExplanation] = []
        for comp in self.comparisons:
            a, b = query.get(comp.column), record.get(comp.column)
            if a is None or b is None:
                if explain:
                    parts.append(
                        FieldExplanation(
                            comparison=comp.name,
                            level="missing",
                            match_weight=0.0,
                            query_value=a,
                            candidate_value=b,
                        )
                    )
                continue
            label, weight = comp.else_label, comp.else_weight
            for level in comp.levels:
                va, vb = query.get(level.column), record.get(level.column)
                if va is None or vb is None or not level.predicate(va, vb):
                    continue
                label, weight = level.label, level.match_weight
                if level.tf_column is not None:
                    weight += self._tf_adjustment(level, va, vb)
                break
            total += weight
            if explain:
                parts.append(
                    FieldExplanation(
                        comparison=comp.name,
                        level=label,
                        match_weight=round(weight, 6),
                        query_value=a,
                        candidate_value=b,
                    )
                )
        return Score(total, tuple(parts))

    def score_rows(self, query: Record, index: ServingIndex, rows: np.ndarray) -> RowScores:
        """Match weights of a query against many records at once; for each pair the same
        value, to the last bit, as `score` (same levels, same order of additions)."""
        n = len(rows)
        values = _RowValues(index, rows)
        total = [self.prior_match_weight] * n
        all_levels, all_parts = [], []
        for comp in self.comparisons:
            level_of = [MISSING] * n
            part = [0.0] * n
            main = values.get(comp.column) if query.get(comp.column) is not None else None
            if main is not None:
                pending = [i for i, v in enumerate(main) if v is not None]
                for i in pending:
                    level_of[i] = len(comp.levels)
                for k, level in enumerate(comp.levels):
                    if not pending:
                        break
                    va = query.get(level.column)
                    column = values.get(level.column)
                    if va is None or column is None:
                        continue
                    reached = level.batch(va, pending, column, values.words(level.column))
                    if not reached:
                        continue
                    for i in reached:
                        level_of[i] = k
                        part[i] = level.match_weight + self._row_tf(level, index, rows[i])
                    done = set(reached)
                    pending = [i for i in pending if i not in done]
                for i in pending:
                    part[i] = comp.else_weight
                total = [t + w for t, w in zip(total, part, strict=True)]
            all_levels.append(np.asarray(level_of, dtype=np.int64))
            all_parts.append(np.asarray(part))
        return RowScores(rows, np.asarray(total), tuple(all_levels), tuple(all_parts))

    @staticmethod
    def _row_tf(level: CompiledLevel, index: ServingIndex, row: int) -> float:
        """The term-frequency adjustment of an exact level for a record (0 without one)."""
        if level.tf_column is None:
            return 0.0
        tf, column = index.tf.get(level.tf_column), index.column(level.tf_column)
        if tf is None or column is None:
            return 0.0
        code = int(column.codes[row])
        freq = float(tf[code]) if code >= 0 else math.nan
        if freq != freq:  # NaN: the value is not in the master's table
            return 0.0
        u = max(freq, freq, level.tf_min_u)
        return level.tf_weight * (level.tf_log2_u_exact - math.log2(u))

    def explain(
        self, query: Record, index: ServingIndex, scores: RowScores, j: int
    ) -> tuple[FieldExplanation, ...]:
        """The per-comparison explanation of the j-th scored record (as `score` gives it)."""
        row = int(scores.rows[j])
        out = []
        for comp, levels, parts in zip(self.comparisons, scores.levels, scores.parts, strict=True):
            column = index.column(comp.column)
            b = column.value(row) if column is not None else None
            k = int(levels[j])
            if k == MISSING:
                label, weight = "missing", 0.0
            else:
                label = comp.levels[k].label if k < len(comp.levels) else comp.else_label
                weight = round(float(parts[j]), 6)
            out.append(
                FieldExplanation.model_construct(
                    comparison=comp.name,
                    level=label,
                    match_weight=weight,
                    query_value=query.get(comp.column),
                    candidate_value=b,
                )
            )
        return tuple(out)


class _RowValues:
    """Some records' values, decoded once per column and split into word sets once, for one
    `score_rows` call."""

    def __init__(self, index: ServingIndex, rows: np.ndarray):
        self.index, self.rows = index, rows
        self._values: dict[str, list[str | None] | None] = {}
        self._words: dict[str, dict[int, set[str]]] = {}

    def get(self, column: str) -> list[str | None] | None:
        if column not in self._values:
            found = self.index.column(column)
            self._values[column] = found.values(self.rows) if found is not None else None
        return self._values[column]

    def words(self, column: str) -> Callable[[int], set[str]]:
        memo = self._words.setdefault(column, {})
        values = self.get(column) or []

        def of(i: int) -> set[str]:
            found = memo.get(i)
            if found is None:
                found = memo[i] = set((values[i] or "").split(" "))
            return found

        return of
