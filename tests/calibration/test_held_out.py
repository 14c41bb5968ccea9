"""Calibrate on one half of the sample's labelled queries, then check on the other half that what
`calibrate` reported — the rule in force's wrong-match rate, the predicted auto-resolution and
the chosen threshold's bound — holds for what the resolver then does (within the intervals)."""

from __future__ import annotations

from pathlib import Path

from calibration import activate, calibrate, read_labels, save_version, write_labels
from calibration.metrics import rate_interval
from resolver import Decision, Resolver, load_resolver, parse_expected, parse_queries
from tests.calibration.conftest import LOOSE_TARGET, SAMPLE


def _supplier_outcomes(resolver: Resolver, ids: set[str]) -> tuple[int, int, int]:
    """Queries whose best candidate is a supplier, how many decided `match`, how many wrongly —
    counted from the sample's truth, not from the labels."""
    expected = parse_expected(SAMPLE / "expected.jsonl")
    queries = auto = wrong = 0
    for query in parse_queries(SAMPLE / "queries.jsonl"):
        if str(query.id) not in ids:
            continue
        resolution = resolver.resolve(query)
        if not resolution.candidates or resolution.candidates[0].entity_type != "supplier":
            continue
        queries += 1
        if resolution.decision is Decision.MATCH:
            auto += 1
            wrong += resolution.canonical_id not in expected[str(query.id)].canonical_ids
    return queries, auto, wrong


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def test_what_calibrate_reports_on_one_half_holds_on_the_other(
    workdir: Path, sample_labels: Path, tmp_path: Path
):
    ids = sorted({str(q.id) for q in parse_queries(SAMPLE / "queries.jsonl")})
    fit_ids, check_ids = set(ids[0::2]), set(ids[1::2])
    half = [label for label in read_labels(sample_labels) if str(label.query.id) in fit_ids]
    version = calibrate(workdir, write_labels(tmp_path / "half.csv", half), LOOSE_TARGET)
    supplier = version.types["supplier"]
    assert supplier.status == "calibrated" and supplier.threshold is not None
    before = supplier.in_force
    assert before is not None and before.rule == "profile default"

    # the rule in force (the profile default) on the other half: within the reported bound
    queries, auto, wrong = _supplier_outcomes(load_resolver(workdir), check_ids)
    assert auto > 0 and wrong / auto <= before.upper

    save_version(workdir, version)
    activate(workdir, version.version)
    queries, auto, wrong = _supplier_outcomes(load_resolver(workdir), check_ids)
    # the chosen threshold: the wrong-match rate it proved holds on queries it never saw
    assert auto > 0 and wrong / auto <= supplier.upper_bound <= LOOSE_TARGET
    # the predicted auto-resolution: its interval and the other half's agree
    assert supplier.coverage_low is not None and supplier.coverage_high is not None
    observed = rate_interval(auto, queries)
    predicted = (supplier.coverage_low, supplier.coverage_high)
    assert _overlap(predicted, observed), (predicted, observed)
    assert supplier.coverage_low <= supplier.coverage <= supplier.coverage_high
