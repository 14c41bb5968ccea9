"""Drift: has the score distribution of recent resolves moved away from the one the calibration
was fitted on? Population stability index per entity type over the top candidate's match weight.

Rule of thumb (the credit-scoring one): PSI < 0.1 stable, 0.1–0.25 watch, ≥ 0.25 re-fit. A
resolve made by another model version than the calibration's also means re-fit: its weights are
on another scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ValidationError

from calibration.errors import ResolutionsError
from calibration.record import CalibrationVersion, Histogram
from resolver import Resolution

DRIFT_BINS = 10
PSI_WATCH = 0.10
PSI_REFIT = 0.25
#: Fewer recent resolves than this of a type and a PSI says more about noise than about drift.
MIN_RECENT = 50
#: Empty bins would make PSI infinite; a share never goes below this.
_FLOOR = 1e-4

DriftStatus = Literal["stable", "watch", "refit", "too_few"]


def bin_counts(edges: Sequence[float], weights: Sequence[float]) -> list[int]:
    """How many weights fall in each bin: (-inf, e0], (e0, e1], …, (e_last, inf)."""
    index = np.searchsorted(np.asarray(edges, dtype=float), np.asarray(weights, dtype=float))
    return [int(v) for v in np.bincount(index, minlength=len(edges) + 1)]


def score_histogram(weights: Sequence[float], bins: int = DRIFT_BINS) -> Histogram:
    """Deciles of the weights as edges (duplicates merged), with the counts between them."""
    if not len(weights):
        return Histogram(edges=[], counts=[0])
    quantiles = np.quantile(np.asarray(weights, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
    edges = sorted({round(float(q), 6) for q in quantiles})
    return Histogram(edges=edges, counts=bin_counts(edges, weights))


def psi(baseline: Histogram, weights: Sequence[float]) -> float:
    """Population stability index of `weights` against the baseline histogram."""
    expected = np.asarray(baseline.counts, dtype=float)
    actual = np.asarray(bin_counts(baseline.edges, weights), dtype=float)
    e = np.maximum(expected / max(expected.sum(), 1.0), _FLOOR)
    a = np.maximum(actual / max(actual.sum(), 1.0), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class DriftRow:
    """One entity type's drift verdict."""

    entity_type: str
    recent: int
    psi: float | None
    status: DriftStatus
    note: str


def read_resolutions(path: Path) -> list[Resolution]:
    """Resolutions from a JSON-lines file (`canon resolve --output`); bad lines are named."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ResolutionsError(f"{path}: file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ResolutionsError(f"{path}: cannot be read ({e})") from e
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(Resolution.model_validate(json.loads(line)))
        except json.JSONDecodeError as e:
            raise ResolutionsError(f"{path}:{n}: not valid JSON ({e.msg})") from e
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(line)"
            raise ResolutionsError(f"{path}:{n}: not a resolution: {where}: {first['msg']}") from e
    return out


def drift(version: CalibrationVersion, recent: Sequence[Resolution]) -> list[DriftRow]:
    """Per calibrated entity type: PSI of recent top-candidate weights and whether to re-fit."""
    weights: dict[str, list[float]] = {}
    other_models = sorted({r.model_version for r in recent} - {version.model_version})
    for r in recent:
        if r.candidates:
            weights.setdefault(r.candidates[0].entity_type, []).append(r.candidates[0].match_weight)
    rows = []
    for name, report in sorted(version.types.items()):
        seen = weights.get(name, [])
        if report.histogram is None or len(seen) < MIN_RECENT:
            rows.append(
                DriftRow(
                    name, len(seen), None, "too_few", f"fewer than {MIN_RECENT} recent resolves"
                )
            )
            continue
        value = psi(report.histogram, seen)
        if other_models:
            status: DriftStatus = "refit"
            models = ", ".join(other_models)
            note = f"resolved by model {models}, calibrated on {version.model_version}"
        elif value >= PSI_REFIT:
            status, note = "refit", f"PSI {value:.3f} ≥ {PSI_REFIT}: the scores have moved; re-fit"
        elif value >= PSI_WATCH:
            status, note = "watch", f"PSI {value:.3f} ≥ {PSI_WATCH}: watch, re-fit if it grows"
        else:
            status, note = "stable", f"PSI {value:.3f} < {PSI_WATCH}"
        rows.append(DriftRow(name, len(seen), None if math.isnan(value) else value, status, note))
    return rows
