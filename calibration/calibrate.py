"""`calibrate()`: labels → per-entity-type calibrated probability and proven threshold.

For each entity type: fit a calibrator on the decidable rows (see `calibration.dataset`),
predict every row from folds that did not see it, and take the smallest threshold whose
Clopper–Pearson upper bound on the held-out wrong-match rate among auto-resolved rows meets the
type's target — never below 1 − target, so that no query more likely wrong than the target is
auto-resolved on the strength of the sure ones around it (see `metrics.eligible`). When nothing
can be proven, the decision in force stays — the active version's entry for the type, or the
profile's default — and the report says about how many more labels of the same mix would prove
the target.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from calibration.dataset import Observation, TrainingSet, build_training_set
from calibration.drift import score_histogram
from calibration.errors import LabelError, VersionError
from calibration.fitting import fit_calibrator
from calibration.labels import Label, read_labels
from calibration.metrics import (
    ThresholdPoint,
    brier,
    choose_threshold,
    ece,
    labels_needed,
    reliability_curve,
    threshold_curve,
)
from calibration.record import (
    Bin,
    CalibrationVersion,
    CurvePoint,
    LabelCounts,
    TypeReport,
)
from resolver import CalibrationTable, EntityCalibration, ResolverError, load_active

DEFAULT_TARGET = 0.005
#: Fewer usable labelled queries than this in the whole file and nothing can be fitted.
MIN_ROWS = 30
#: Fewer labelled queries of one entity type and its default stays.
MIN_TYPE_ROWS = 30
#: Points of the precision/coverage curve kept in a version file.
CURVE_POINTS = 200


def _bins(p: list[float], y: list[bool]) -> list[Bin]:
    return [Bin(**vars(b)) for b in reliability_curve(p, y)]


def _points(curve: list[ThresholdPoint], chosen: ThresholdPoint | None) -> list[CurvePoint]:
    step = max(1, len(curve) // CURVE_POINTS)
    kept = [
        pt for i, pt in enumerate(curve) if i % step == 0 or pt is chosen or i == len(curve) - 1
    ]
    return [
        CurvePoint(
            threshold=pt.threshold,
            auto=pt.auto,
            wrong=pt.wrong,
            upper=pt.upper,
            precision=pt.precision,
            coverage=pt.coverage,
        )
        for pt in kept
    ]


def calibrate_type(
    name: str,
    rows: list[Observation],
    target: float,
    margin: float,
    default_threshold: float,
    seed: int = 0,
) -> tuple[TypeReport, EntityCalibration | None]:
    """One entity type's report, and its table entry when a threshold is proven."""
    dec = [o for o in rows if o.decidable]
    y = [o.correct for o in dec]
    raw = [o.raw_probability for o in dec]
    default_hits = [o for o in dec if o.raw_probability >= default_threshold]
    base = {
        "entity_type": name,
        "rows": len(rows),
        "decidable": len(dec),
        "correct": sum(o.correct for o in rows),
        "wrong": sum(not o.correct for o in rows),
        "derived": sum(o.derived for o in rows),
        "target_error": target,
        "margin": margin,
        "default_threshold": default_threshold,
        "default_auto": len(default_hits),
        "default_wrong": sum(not o.correct for o in default_hits),
        "ece_before": ece(raw, y),
        "brier_before": brier(raw, y),
        "reliability_before": _bins(raw, y),
        "histogram": score_histogram([o.match_weight for o in rows]),
    }
    unfitted = {"ece_after": base["ece_before"], "brier_after": base["brier_before"]}
    if len(rows) < MIN_TYPE_ROWS:
        reason = f"only {len(rows)} labelled queries; at least {MIN_TYPE_ROWS} are needed to fit"
        need = MIN_TYPE_ROWS - len(rows)
        report = TypeReport(
            status="default_kept", reason=reason, threshold=None, labels_needed=need,
            **base, **unfitted,
        )  # fmt: skip
        return report, None
    if not any(y):
        reason = "no decidable query's top candidate is labelled correct: nothing to auto-resolve"
        report = TypeReport(
            status="default_kept", reason=reason, threshold=None, **base, **unfitted
        )
        return report, None
    fit = fit_calibrator([o.match_weight for o in dec], [o.margin for o in dec], y, seed=seed)
    curve = threshold_curve(fit.held_out, y, len(rows))
    chosen = choose_threshold(curve, target)
    fitted = {
        "method": fit.method,
        "folds": fit.folds,
        "ece_after": ece(fit.held_out, y),
        "brier_after": brier(fit.held_out, y),
        "reliability_after": _bins(fit.held_out, y),
        "curve": _points(curve, chosen),
    }
    if chosen is None:
        more = labels_needed(curve, target)
        reason = f"no threshold proves a wrong-match rate ≤ {target:.2%} at 95 % confidence;" + (
            f" about {more} more labelled queries of this mix would"
            if more is not None
            else " the observed wrong-match rate is above the target at every threshold"
        )
        report = TypeReport(
            status="default_kept", reason=reason, threshold=None, labels_needed=more,
            **base, **fitted,
        )  # fmt: skip
        return report, None
    threshold = min(1.0, max(chosen.threshold, 1e-9))
    reason = (
        f"{chosen.auto} auto-resolved held-out rows, {chosen.wrong} wrong: upper bound"
        f" {chosen.upper:.2%} ≤ {target:.2%}"
    )
    report = TypeReport(
        status="calibrated", reason=reason, threshold=threshold, auto=chosen.auto,
        wrong_at_threshold=chosen.wrong, upper_bound=chosen.upper, coverage=chosen.coverage,
        **base, **fitted,
    )  # fmt: skip
    return report, EntityCalibration(threshold=threshold, margin=margin, mapping=fit.mapping)


def _check_classes(labels: list[Label], source: str) -> None:
    if not labels:
        raise LabelError(f"{source}: no labels")
    classes = {label.label for label in labels}
    if len(classes) == 1:
        only = classes.pop()
        raise LabelError(
            f"{source}: every label is {only!r}; calibration needs both correct and wrong labels"
        )


def _check_usable(data: TrainingSet, source: str) -> None:
    used = data.observations
    if len(used) < MIN_ROWS:
        raise LabelError(
            f"{source}: only {len(used)} labelled queries have a top candidate with a known label"
            f" (of {data.queries} queries); at least {MIN_ROWS} are needed"
        )
    if all(o.correct for o in used) or not any(o.correct for o in used):
        only = "correct" if used[0].correct else "wrong"
        raise LabelError(
            f"{source}: every re-resolved top candidate is {only}; calibration needs both classes"
        )


def _version_id(created: datetime, digest: str, model_version: str, targets: str) -> str:
    tag = hashlib.sha256(f"{digest}|{model_version}|{targets}".encode()).hexdigest()[:6]
    return f"cal-{created:%Y%m%dT%H%M%SZ}-{tag}"


def calibrate(
    workdir: Path,
    labels_path: Path,
    target_error: float = DEFAULT_TARGET,
    targets: dict[str, float] | None = None,
    margins: dict[str, float] | None = None,
    seed: int = 0,
) -> CalibrationVersion:
    """Fit a calibration version from a labels file (not written, not activated)."""
    source = str(labels_path)
    labels = read_labels(labels_path)
    _check_classes(labels, source)
    data = build_training_set(workdir, labels, source, margins)
    unknown = sorted(set(targets or {}) - set(data.margins))
    if unknown:
        raise LabelError(f"--target-error-for: unknown entity type {unknown[0]!r}")
    _check_usable(data, source)
    try:
        active = load_active(workdir)
    except ResolverError as e:
        raise VersionError(str(e)) from e
    reports: dict[str, TypeReport] = {}
    entries: dict[str, EntityCalibration] = {}
    for name in data.entity_types():
        target = (targets or {}).get(name, target_error)
        report, entry = calibrate_type(
            name, data.of_type(name), target, data.margins[name],
            data.default_thresholds[name], seed,
        )  # fmt: skip
        reports[name] = report
        if entry is not None:
            entries[name] = entry
    for name, entry in active.entity_types.items():
        entries.setdefault(name, entry)  # what was in force stays in force
    created = datetime.now(UTC).replace(microsecond=0)
    digest = hashlib.sha256(labels_path.read_bytes()).hexdigest()
    all_targets = {n: (targets or {}).get(n, target_error) for n in data.margins}
    version = _version_id(
        created, digest, data.model_version, json.dumps(all_targets, sort_keys=True)
    )
    counts = LabelCounts(
        labels=len(labels),
        by_label=dict(Counter(label.label for label in labels)),
        by_source=dict(Counter(label.source for label in labels)),
        queries=data.queries,
        used=len(data.observations),
        unknown=data.unknown,
        no_candidates=data.no_candidates,
    )
    return CalibrationVersion(
        version=version,
        created_at=created,
        model_version=data.model_version,
        parent=active.version,
        labels_file=str(labels_path),
        labels_sha256=digest,
        counts=counts,
        types=reports,
        table=CalibrationTable(version=version, entity_types=entries),
    )
