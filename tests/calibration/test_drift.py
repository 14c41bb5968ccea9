"""Drift: PSI of recent top-candidate weights against the calibration-time histogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration import CalibrationVersion, ResolutionsError, drift, psi, read_resolutions
from calibration.drift import MIN_RECENT, score_histogram
from resolver import Resolution, load_resolver, parse_queries
from tests.calibration.conftest import SAMPLE


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    base = list(rng.normal(8, 4, 2000))
    hist = score_histogram(base)
    assert sum(hist.counts) == 2000 and len(hist.counts) == len(hist.edges) + 1
    assert psi(hist, list(rng.normal(8, 4, 2000))) < 0.02
    assert psi(hist, list(rng.normal(2, 4, 2000))) > 0.25


@pytest.fixture(scope="module")
def recent(trained: Path) -> list[Resolution]:
    resolver = load_resolver(trained)
    return [resolver.resolve(q) for q in parse_queries(SAMPLE / "queries.jsonl")]


def shifted(resolutions: list[Resolution], bits: float) -> list[Resolution]:
    out = []
    for r in resolutions:
        cands = [c.model_copy(update={"match_weight": c.match_weight + bits}) for c in r.candidates]
        out.append(r.model_copy(update={"candidates": cands}))
    return out


def test_the_same_traffic_is_stable_and_shifted_traffic_is_due_a_refit(
    fitted: CalibrationVersion, recent: list[Resolution]
):
    rows = {r.entity_type: r for r in drift(fitted, recent)}
    assert rows["supplier"].status == "stable" and rows["supplier"].psi is not None
    assert rows["supplier"].psi < 0.1
    assert rows["contact"].status == "too_few"  # fewer than MIN_RECENT resolves
    assert rows["contact"].recent < MIN_RECENT
    moved = {r.entity_type: r for r in drift(fitted, shifted(recent, -12.0))}
    assert moved["supplier"].status == "refit"


def test_another_model_version_means_refit(fitted: CalibrationVersion, recent: list[Resolution]):
    other = [r.model_copy(update={"model_version": "protheus-next"}) for r in recent]
    rows = {r.entity_type: r for r in drift(fitted, other)}
    assert rows["supplier"].status == "refit" and "protheus-next" in rows["supplier"].note


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("\n{oops\n", r":2: not valid JSON", id="bad-json"),
        pytest.param('{"decision": "perhaps"}\n', r":1: not a resolution", id="not-resolution"),
    ],
)
def test_bad_resolution_files_name_the_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "recent.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ResolutionsError, match=message):
        read_resolutions(path)
    with pytest.raises(ResolutionsError, match="file not found"):
        read_resolutions(tmp_path / "absent.jsonl")
