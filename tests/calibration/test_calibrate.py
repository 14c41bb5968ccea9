"""calibrate() on the committed sample: held-out metrics, proven thresholds, what the resolver
then does, and bad labels refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calibration import (
    CalibrationVersion,
    LabelError,
    Observation,
    RuleCheck,
    activate,
    build_training_set,
    calibrate,
    calibrate_type,
    is_halt,
    read_labels,
    save_version,
    write_labels,
    wrong_rate_upper,
)
from calibration.dataset import derive_label
from resolver import Decision, ModelError, load_resolver, parse_expected, parse_queries
from tests.calibration.conftest import LOOSE_TARGET, SAMPLE


def test_held_out_calibration_is_better_than_splinks_probability(fitted: CalibrationVersion):
    supplier = fitted.types["supplier"]
    assert supplier.rows >= 150 and supplier.folds == 5
    assert supplier.ece_after < supplier.ece_before
    assert supplier.ece_after <= 0.02
    assert supplier.brier_after <= supplier.brier_before


def test_the_threshold_is_proven_on_held_out_rows(fitted: CalibrationVersion):
    supplier = fitted.types["supplier"]
    assert supplier.status == "calibrated" and supplier.threshold is not None
    assert supplier.upper_bound is not None and supplier.upper_bound <= LOOSE_TARGET
    assert supplier.wrong_at_threshold / supplier.auto <= LOOSE_TARGET
    assert 0.3 < supplier.coverage <= 1.0
    entry = fitted.table.entity_types["supplier"]
    assert entry.threshold == supplier.threshold and entry.margin == supplier.margin
    # the smallest such threshold at or above 1 − target: every lower one fails one or the other
    assert supplier.threshold >= 1 - LOOSE_TARGET
    lower = [pt for pt in supplier.curve if pt.threshold < supplier.threshold]
    assert all(pt.upper > LOOSE_TARGET or pt.threshold < 1 - LOOSE_TARGET for pt in lower)


def test_an_unproven_rule_in_force_halts_the_type_and_says_how_many_more(
    trained: Path, sample_labels: Path
):
    strict = calibrate(trained, sample_labels, target_error=0.005)
    for name, report in strict.types.items():
        assert report.in_force is not None and report.in_force.rule == "profile default"
        assert report.in_force.verdict in ("unproven", "exceeds")
        assert report.in_force.upper > 0.005
        assert report.status == "halted" and report.threshold is None
        assert is_halt(strict.table.entity_types[name])
        assert report.applied is not None and report.applied.verdict == "halts"
        assert report.applied.auto == 0
    supplier = strict.types["supplier"]
    assert supplier.labels_needed is not None and supplier.labels_needed > 0
    assert "more labelled queries" in supplier.reason and "halts every supplier" in supplier.reason


def test_the_rule_in_force_is_what_the_resolver_does_on_the_labels(
    trained: Path, sample_labels: Path, fitted: CalibrationVersion
):
    """Counted here from the sample's truth, independently of the labels file."""
    resolver = load_resolver(trained)  # the profile defaults: nothing activated
    expected = parse_expected(SAMPLE / "expected.jsonl")
    auto, wrong = 0, 0
    for query in parse_queries(SAMPLE / "queries.jsonl"):
        resolution = resolver.resolve(query)
        if resolution.decision is Decision.MATCH and resolution.entity_type == "supplier":
            auto += 1
            wrong += resolution.canonical_id not in expected[str(query.id)].canonical_ids
    check = fitted.types["supplier"].in_force
    assert check is not None and check.threshold == 0.5 and check.margin == 5.0
    assert (check.auto, check.wrong) == (auto, wrong)
    assert check.upper == pytest.approx(wrong_rate_upper(wrong, auto))


@pytest.mark.parametrize("halted", ["customer", "supplier"])
def test_a_halted_type_never_matches_and_no_match_is_unchanged(
    workdir: Path, sample_labels: Path, halted: str
):
    """Halting must not turn a match into `no_match` (which lets `supplier.create` proceed)."""
    before = load_resolver(workdir)
    targets = {n: (0.005 if n == halted else 0.5) for n in ("supplier", "customer")}
    version = calibrate(workdir, sample_labels, target_error=0.5, targets=targets)
    assert version.types[halted].status == "halted"
    save_version(workdir, version)
    activate(workdir, version.version)
    after = load_resolver(workdir)
    changed = 0
    for query in parse_queries(SAMPLE / "queries.jsonl"):
        old, new = before.resolve(query), after.resolve(query)
        if new.candidates and new.candidates[0].entity_type == halted:
            assert new.decision is not Decision.MATCH, new
            assert (new.decision is Decision.NO_MATCH) == (old.decision is Decision.NO_MATCH)
            changed += old.decision is Decision.MATCH
    assert changed > 0  # it did hold queries the default matched


def test_a_rule_in_force_that_meets_the_target_stays(trained: Path, sample_labels: Path):
    loose = calibrate(trained, sample_labels, target_error=0.05, targets={"contact": 0.2})
    contact = loose.types["contact"]
    assert contact.in_force is not None and contact.in_force.verdict == "meets"
    assert contact.in_force.upper <= 0.2
    # A rule in force that meets the target is never replaced by a halt or a stricter gate:
    # it stays, or a proven threshold (that meets the target too) takes over.
    meeting = [t for t in loose.types.values() if t.in_force and t.in_force.verdict == "meets"]
    assert meeting
    for report in meeting:
        assert report.status in ("default_kept", "calibrated"), report
        if report.status == "default_kept":
            assert "it stays" in report.reason
            assert report.entity_type not in loose.table.entity_types


def test_keep_unproven_keeps_the_rule_in_force_and_still_reports_it(
    workdir: Path, sample_labels: Path, fitted: CalibrationVersion
):
    save_version(workdir, fitted)
    activate(workdir, fitted.version)
    strict = calibrate(workdir, sample_labels, target_error=0.005, keep_unproven=True)
    assert strict.parent == fitted.version
    supplier = strict.types["supplier"]
    assert supplier.status == "default_kept"
    assert supplier.in_force is not None and supplier.in_force.rule == fitted.version
    assert supplier.in_force.verdict in ("unproven", "exceeds")
    assert strict.table.entity_types["supplier"] == fitted.table.entity_types["supplier"]
    assert "it stays as asked" in supplier.reason


def _obs(i: int, correct: bool, margin: float) -> Observation:
    weight = 20.0 + (i % 10)
    return Observation("supplier", str(i), f"id{i}", weight, margin, 1.0, correct, True)


def test_a_stricter_margin_gate_is_offered_when_it_can_be_proven():
    """Wrong answers that sit just above the margin gate, among right ones as strong: no
    threshold at the gate can tell them apart, a gate above them can."""
    rows = [_obs(i, True, 12.0) for i in range(300)] + [
        _obs(300 + i, False, 4.0) for i in range(30)
    ]
    unproven = RuleCheck(
        rule="profile default", threshold=0.5, margin=3.0, queries=330, auto=330, wrong=30,
        rate=30 / 330, upper=0.12, target=0.05, verdict="exceeds",
    )  # fmt: skip
    report, entry = calibrate_type("supplier", rows, 0.05, 3.0, 0.5, in_force=unproven)
    assert report.status == "stricter" and entry is not None
    assert 4.0 < entry.margin <= 12.0  # above the wrong ones, not above the right ones
    assert report.auto == 300 and report.wrong_at_threshold == 0
    assert report.upper_bound is not None and report.upper_bound <= 0.05
    # with the rule in force meeting the target, nothing stricter is imposed
    meets = unproven.model_copy(update={"wrong": 0, "upper": 0.01, "verdict": "meets"})
    kept, none = calibrate_type("supplier", rows, 0.05, 3.0, 0.5, in_force=meets)
    assert kept.status == "default_kept" and none is None


def test_per_type_targets(trained: Path, sample_labels: Path, fitted: CalibrationVersion):
    mixed = calibrate(trained, sample_labels, target_error=0.005, targets={"supplier": 0.05})
    assert mixed.types["supplier"].status == "calibrated"
    assert mixed.types["supplier"].threshold == fitted.types["supplier"].threshold
    assert mixed.types["employee"].target_error == 0.005
    with pytest.raises(LabelError, match="unknown entity type 'vendor'"):
        calibrate(trained, sample_labels, targets={"vendor": 0.01})


def test_the_resolver_decides_with_the_activated_version(workdir: Path, fitted: CalibrationVersion):
    save_version(workdir, fitted)
    activate(workdir, fitted.version)
    resolver = load_resolver(workdir)
    expected = parse_expected(SAMPLE / "expected.jsonl")
    matched, wrong = 0, 0
    for query in parse_queries(SAMPLE / "queries.jsonl"):
        resolution = resolver.resolve(query)
        assert resolution.calibration_version == fitted.version
        if resolution.decision is Decision.MATCH and resolution.entity_type == "supplier":
            matched += 1
            truth = expected[str(query.id)]
            wrong += resolution.canonical_id not in truth.canonical_ids
    assert matched >= fitted.types["supplier"].auto * 0.8
    assert wrong / matched <= LOOSE_TARGET


def test_halted_rows_are_not_left_to_the_probability(trained: Path, sample_labels: Path):
    data = build_training_set(trained, read_labels(sample_labels), "labels.csv")
    kinds = {str(e.id): e.kind for e in parse_expected(SAMPLE / "expected.jsonl").values()}
    for obs in data.observations:
        if obs.margin < data.margins[obs.entity_type]:
            assert not obs.decidable
        if kinds[obs.query_id] == "taxid_contradiction":
            assert not obs.decidable, obs  # the resolver halts these whatever P says


@pytest.mark.parametrize(
    ("pairs", "none_right", "some_right", "expected"),
    [
        pytest.param({("q", "A"): True}, set(), {"q"}, (True, False), id="labelled-correct"),
        pytest.param({("q", "A"): False}, set(), set(), (False, False), id="labelled-wrong"),
        pytest.param({("q", "B"): True}, set(), {"q"}, (False, True), id="another-id-is-right"),
        pytest.param({}, {"q"}, set(), (False, True), id="no-candidate-is-right"),
        pytest.param({("q", "B"): False}, set(), set(), (None, False), id="unknown"),
    ],
)
def test_the_top_candidates_label_is_given_or_derived(pairs, none_right, some_right, expected):
    assert derive_label("q", "A", pairs, none_right, some_right) == expected


def _rewrite(src: Path, dst: Path, **changes: object) -> Path:
    labels = [lab.model_copy(update=changes) for lab in read_labels(src)]
    return write_labels(dst, labels)


def test_unknown_entity_type_is_refused(trained: Path, sample_labels: Path, tmp_path: Path):
    bad = _rewrite(sample_labels, tmp_path / "l.csv", entity_type="vendor")
    with pytest.raises(LabelError, match=r"row 1: unknown entity type 'vendor'.*and \d+ more"):
        calibrate(trained, bad)


def test_unknown_canonical_id_is_refused(trained: Path, sample_labels: Path, tmp_path: Path):
    labels = read_labels(sample_labels)
    labels[4] = labels[4].model_copy(update={"canonical_id": "SA2::999999:99"})
    bad = write_labels(tmp_path / "l.csv", labels)
    with pytest.raises(LabelError, match="row 5: 'SA2::999999:99' is not a"):
        calibrate(trained, bad)


def test_one_class_only_is_refused(trained: Path, sample_labels: Path, tmp_path: Path):
    right = [lab for lab in read_labels(sample_labels) if lab.label == "correct"]
    with pytest.raises(LabelError, match="every label is 'correct'"):
        calibrate(trained, write_labels(tmp_path / "l.csv", right))


def test_too_few_rows_are_refused(trained: Path, sample_labels: Path, tmp_path: Path):
    few = read_labels(sample_labels)[:12]
    with pytest.raises(LabelError, match="at least 30 are needed"):
        calibrate(trained, write_labels(tmp_path / "l.csv", few))


def test_a_query_the_resolver_refuses_is_named(trained: Path, sample_labels: Path, tmp_path: Path):
    labels = read_labels(sample_labels)
    query = json.loads(labels[0].query.model_dump_json())
    query["record"]["shoe_size"] = "42"
    labels[0] = labels[0].model_copy(update={"query": labels[0].query.model_validate(query)})
    with pytest.raises(LabelError, match=r"query q\w+: record.shoe_size"):
        calibrate(trained, write_labels(tmp_path / "l.csv", labels))


def test_a_workdir_without_a_model_says_so(sample_labels: Path, tmp_path: Path):
    with pytest.raises(ModelError, match="no trained model here"):
        calibrate(tmp_path, sample_labels)
