"""Evaluation of decisions against expected outcomes, beside the naive fuzzy-name baseline."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from rapidfuzz import fuzz, process

from resolver.errors import QueryError
from resolver.normalise import fold
from resolver.service import Resolver
from resolver.types import Decision, ResolveQuery

BASELINE_CUTOFF = 90.0


class Expected(BaseModel):
    """One line of the expected-outcomes file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | int
    kind: str = "unspecified"
    expected: str  # "match" or "halt"
    canonical_ids: list[str] = []


@dataclass
class KindTally:
    """Outcomes of one query kind, for Canon or for the baseline."""

    n: int = 0
    right: int = 0
    wrong: int = 0
    halted: int = 0


@dataclass
class Evaluation:
    """Per-kind tallies and whether each kind must match or must halt."""

    expected_by_kind: dict[str, str] = field(default_factory=dict)
    canon: dict[str, KindTally] = field(default_factory=dict)
    baseline: dict[str, KindTally] = field(default_factory=dict)

    @staticmethod
    def summary(tallies: dict[str, KindTally], expected: dict[str, str]) -> dict[str, float]:
        matched = sum(t.right + t.wrong for t in tallies.values())
        right = sum(t.right for t in tallies.values())
        resolvable = [k for k, e in expected.items() if e == "match"]
        must_halt = [k for k, e in expected.items() if e == "halt"]
        n_res = sum(tallies[k].n for k in resolvable)
        n_halt = sum(tallies[k].n for k in must_halt)
        return {
            "precision": right / matched if matched else 1.0,
            "coverage": sum(tallies[k].right for k in resolvable) / n_res if n_res else 0.0,
            "halt_rate": sum(tallies[k].n - tallies[k].right - tallies[k].wrong for k in must_halt)
            / n_halt
            if n_halt
            else 1.0,
            "matches": float(matched),
            "queries": float(sum(t.n for t in tallies.values())),
        }


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Read a JSON-lines file; errors name the file and line."""
    rows: list[dict[str, object]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise QueryError(f"{path}: file not found") from e
    except UnicodeDecodeError as e:
        raise QueryError(f"{path}: not UTF-8 text") from e
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise QueryError(f"{path}:{n}: not valid JSON ({e.msg})") from e
        if not isinstance(row, dict):
            raise QueryError(f"{path}:{n}: expected a JSON object")
        rows.append(row)
    return rows


def parse_queries(path: Path) -> list[ResolveQuery]:
    """Every query of a JSON-lines file, validated; the first bad line names file, line, field."""
    out = []
    for n, row in enumerate(read_jsonl(path), start=1):
        try:
            out.append(ResolveQuery.model_validate(row))
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(line)"
            raise QueryError(f"{path}: query {n}: {where}: {err['msg']}") from e
    return out


def parse_expected(path: Path) -> dict[str, Expected]:
    out = {}
    for n, row in enumerate(read_jsonl(path), start=1):
        try:
            exp = Expected.model_validate(row)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(line)"
            raise QueryError(f"{path}: line {n}: {where}: {err['msg']}") from e
        out[str(exp.id)] = exp
    return out


class NaiveBaseline:
    """The demo-grade resolver: the best fuzzy name match (WRatio ≥ 90) wins."""

    def __init__(self, resolver: Resolver):
        self._names: dict[str, tuple[list[str], list[str]]] = {}
        for name, et in resolver.entity_types.items():
            raw_name_cols = et.spec.roles.get("name", [])
            if not raw_name_cols:
                continue
            names = [fold(v) for v in et.index.raw_column(raw_name_cols[0])]
            self._names[name] = (names, et.index.ids)
        self._parties = [n for n, e in resolver.entity_types.items() if e.spec.party]
        self._name_fields = {"name"} | {
            c for e in resolver.entity_types.values() for c in e.spec.roles.get("name", [])
        }

    def resolve(self, query: ResolveQuery) -> str | None:
        """The canonical id the baseline would write to, or None when it halts."""
        text = next(
            (
                str(v)
                for k, v in query.record.items()
                if k in self._name_fields or k.upper() in self._name_fields
            ),
            None,
        )
        if not text:
            return None
        types = [query.entity_type] if query.entity_type else self._parties
        best: tuple[float, str | None] = (0.0, None)
        for et in types:
            if et not in self._names:
                continue
            names, ids = self._names[et]
            hit = process.extractOne(fold(text), names, scorer=fuzz.WRatio)
            if hit is not None and hit[1] > best[0]:
                best = (hit[1], ids[hit[2]])
        return best[1] if best[0] >= BASELINE_CUTOFF else None


def _tally(tally: KindTally, matched: str | None, expected: Expected) -> None:
    tally.n += 1
    if matched is None:
        tally.halted += 1
    elif expected.expected == "match" and matched in expected.canonical_ids:
        tally.right += 1
    else:
        tally.wrong += 1


def evaluate(
    resolver: Resolver,
    queries: Iterable[ResolveQuery],
    expected: dict[str, Expected],
    progress: Callable[[], None] | None = None,
) -> Evaluation:
    """Resolve every query that has an expectation and tally the outcomes by kind."""
    result = Evaluation()
    baseline = NaiveBaseline(resolver)
    for query in queries:
        exp = expected.get(str(query.id))
        if exp is None:
            continue
        result.expected_by_kind[exp.kind] = exp.expected
        resolution = resolver.resolve(query)
        ours = resolution.canonical_id if resolution.decision is Decision.MATCH else None
        _tally(result.canon.setdefault(exp.kind, KindTally()), ours, exp)
        _tally(result.baseline.setdefault(exp.kind, KindTally()), baseline.resolve(query), exp)
        if progress:
            progress()
    return result
