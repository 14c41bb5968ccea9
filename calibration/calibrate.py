"""`calibrate()`: labels → per-entity-type calibrated probability and proven threshold.

For each entity type: fit a calibrator on the decidable rows (see `calibration.dataset`),
predict every row from folds that did not see it, and take the smallest threshold whose
Clopper–Pearson upper bound on the held-out wrong-match rate among auto-resolved rows meets the
type's target — never below 1 − target, so that no query more likely wrong than the target is
auto-resolved on the strength of the sure ones around it (see `metrics.eligible`).

The rule in force (the active version's entry for the type, or the profile's default) is always
run on the labels by the resolver itself (`calibration.rules`), and so is the rule the new
version applies: the report gives both wrong-match rates with their 95 % upper bounds. When no
threshold can be proven, the rule in force stays only if it meets the target on the labels;
otherwise the version applies the safer rule it can prove — a stricter margin gate with its
threshold, or no `match` at all for the type — and says about how many more labels of the same
mix would prove a threshold.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from calibration.dataset import (
    Observation,
    TrainingSet,
    build_training_set,
    labelled_queries,
    probe_resolver,
    verdicts_of,
)
from calibration.drift import score_histogram
from calibration.errors import LabelError, VersionError
from calibration.fitting import Fit, fit_calibrator
from calibration.labels import Label, read_labels
from calibration.metrics import (
    ThresholdPoint,
    brier,
    choose_threshold,
    ece,
    labels_needed,
    rate_interval,
    reliability_curve,
    threshold_curve,
)
from calibration.record import (
    Bin,
    CalibrationVersion,
    CurvePoint,
    LabelCounts,
    RuleCheck,
    TypeReport,
)
from calibration.rules import check_rules, halt_entry, with_table
from resolver import CalibrationTable, EntityCalibration, ResolverError, load_active

DEFAULT_TARGET = 0.005
#: Fewer usable labelled queries than this in the whole file and nothing can be fitted.
MIN_ROWS = 30
#: Fewer labelled queries of one entity type and its default stays.
MIN_TYPE_ROWS = 30
#: Points of the precision/coverage curve kept in a version file.
CURVE_POINTS = 200
#: Bits added to a type's margin gate when looking for a stricter rule that can be proven.
STRICTER_MARGINS = (1.0, 2.0, 4.0, 8.0, 16.0)


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


def _outside(rows: list[Observation]) -> dict[str, int]:
    """How many labelled queries each halting rule held before the probability could decide."""
    return dict(sorted(Counter(o.held_by for o in rows if o.held_by is not None).items()))


@dataclass(frozen=True)
class _Gated:
    """A calibrator fitted on the rows one margin gate lets P decide, and its threshold curve."""

    gate: float
    fit: Fit
    y: list[bool]
    curve: list[ThresholdPoint]


def _gated(rows: list[Observation], gate: float, seed: int) -> _Gated:
    dec = [o for o in rows if o.decidable_at(gate)]
    y = [o.correct for o in dec]
    fit = fit_calibrator([o.match_weight for o in dec], [o.margin for o in dec], y, seed=seed)
    return _Gated(gate, fit, y, threshold_curve(fit.held_out, y, len(rows)))


def _stricter(
    rows: list[Observation], target: float, margin: float, seed: int
) -> tuple[_Gated, ThresholdPoint] | None:
    """The proven margin gate stricter than `margin`, with its refitted calibrator and threshold,
    that auto-resolves the most labelled queries; None when no gate proves the target."""
    best: tuple[_Gated, ThresholdPoint] | None = None
    for extra in STRICTER_MARGINS:
        gate = margin + extra
        dec = [o for o in rows if o.decidable_at(gate)]
        if len(dec) < MIN_TYPE_ROWS or not any(o.correct for o in dec):
            break  # a stricter gate only leaves fewer
        gated = _gated(rows, gate, seed)
        chosen = choose_threshold(gated.curve, target)
        if chosen is not None and (best is None or chosen.auto > best[1].auto):
            best = (gated, chosen)
    return best


def _in_force_says(check: RuleCheck) -> str:
    what = {"meets": "meets", "exceeds": "exceeds", "unproven": "is not proven to meet"}
    return (
        f"the rule in force ({check.rule}) {what.get(check.verdict, check.verdict)} the target:"
        f" {check.wrong} wrong of {check.auto} auto-resolved labelled queries"
        f" ({check.rate:.2%}, upper bound {check.upper:.2%})"
    )


def calibrate_type(
    name: str,
    rows: list[Observation],
    target: float,
    margin: float,
    default_threshold: float,
    seed: int = 0,
    in_force: RuleCheck | None = None,
    keep_unproven: bool = False,
) -> tuple[TypeReport, EntityCalibration | None]:
    """One entity type's report, and its table entry when the version changes the rule.

    A proven threshold at the margin gate → `calibrated`. Otherwise the rule in force (run on
    the labels as `in_force`) stays when it meets the target (`default_kept`; also when it was
    not checked, or when `keep_unproven` asks for it); else the safer choice that can be
    proven: a stricter margin gate with its threshold (`stricter`), or no `match` for the type
    at all until more labels (`halted`).
    """
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
        "outside": _outside(rows),
        "in_force": in_force,
    }
    keep = in_force is None or in_force.meets or keep_unproven

    def unproven(
        why: str, need: int | None, fitted: dict[str, object], about: str = "about"
    ) -> tuple[TypeReport, EntityCalibration | None]:
        more = (
            ""
            if need is None
            else f"; {about} {need} more labelled queries of this mix would prove a threshold"
        )
        if keep:
            said = ""
            if in_force is not None:
                asked = "" if in_force.meets else " as asked (keep unproven)"
                said = f"; {_in_force_says(in_force)}: it stays{asked}"
            report = TypeReport(
                status="default_kept", reason=f"{why}{more}{said}", threshold=None,
                labels_needed=need, **base, **fitted,
            )  # fmt: skip
            return report, None
        assert in_force is not None
        until = (
            f"until {about} {need} more labelled queries of this mix prove a threshold"
            if need is not None
            else "until labels show a threshold that keeps the target"
        )
        reason = (
            f"{why}, and {_in_force_says(in_force)}: this version halts every {name} query"
            f" (never `match`) {until}"
        )
        report = TypeReport(
            status="halted", reason=reason, threshold=None, labels_needed=need,
            **base, **fitted,
        )  # fmt: skip
        return report, halt_entry(margin)

    unfitted = {"ece_after": base["ece_before"], "brier_after": base["brier_before"]}
    if len(rows) < MIN_TYPE_ROWS:
        why = f"only {len(rows)} labelled queries; at least {MIN_TYPE_ROWS} are needed to fit"
        return unproven(why, MIN_TYPE_ROWS - len(rows), unfitted, "at least")
    if not any(y):
        why = "no decidable query's top candidate is labelled correct: nothing to auto-resolve"
        return unproven(why, None, unfitted)
    gated = _gated(rows, margin, seed)
    chosen = choose_threshold(gated.curve, target)
    status: Literal["calibrated", "stricter"] = "calibrated"
    if chosen is None and not keep:
        stricter = _stricter(rows, target, margin, seed)
        if stricter is not None:
            gated, chosen = stricter
            status = "stricter"
    fit, gate = gated.fit, gated.gate
    fitted: dict[str, object] = {
        "method": fit.method,
        "folds": fit.folds,
        "ece_after": ece(fit.held_out, gated.y),
        "brier_after": brier(fit.held_out, gated.y),
        "reliability_after": _bins(fit.held_out, gated.y),
        "curve": _points(gated.curve, chosen),
    }
    if chosen is None:
        more = labels_needed(gated.curve, target)
        why = f"no threshold proves a wrong-match rate ≤ {target:.2%} at 95 % confidence" + (
            ""
            if more is not None
            else "; the observed wrong-match rate is above the target at every threshold"
        )
        return unproven(why, more, fitted)
    threshold = min(1.0, max(chosen.threshold, 1e-9))
    low, high = rate_interval(chosen.auto, len(rows))
    reason = (
        f"{chosen.auto} auto-resolved held-out rows, {chosen.wrong} wrong: upper bound"
        f" {chosen.upper:.2%} ≤ {target:.2%}"
    )
    if status == "stricter":
        assert in_force is not None
        reason = (
            f"{_in_force_says(in_force)} and no threshold is proven at the {margin:g}-bit margin"
            f" gate; a stricter gate of {gate:g} bits proves one: {reason}"
        )
    report = TypeReport(
        status=status, reason=reason, threshold=threshold, auto=chosen.auto,
        wrong_at_threshold=chosen.wrong, upper_bound=chosen.upper, coverage=chosen.coverage,
        coverage_low=low, coverage_high=high, **{**base, "margin": gate},
        **fitted,
    )  # fmt: skip
    return report, EntityCalibration(threshold=threshold, margin=gate, mapping=fit.mapping)


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
    keep_unproven: bool = False,
) -> CalibrationVersion:
    """Fit a calibration version from a labels file (not written, not activated).

    `keep_unproven`: where no threshold is proven, keep the rule in force even when it does not
    meet the target on the labels (the report still says so), instead of the safer rule.
    """
    source = str(labels_path)
    labels = read_labels(labels_path)
    _check_classes(labels, source)
    try:
        active = load_active(workdir)
    except ResolverError as e:
        raise VersionError(str(e)) from e
    probe = probe_resolver(workdir)
    data = build_training_set(workdir, labels, source, margins, resolver=probe)
    unknown = sorted(set(targets or {}) - set(data.margins))
    if unknown:
        raise LabelError(f"--target-error-for: unknown entity type {unknown[0]!r}")
    _check_usable(data, source)
    queries, verdicts = labelled_queries(labels), verdicts_of(labels)
    type_targets = {n: (targets or {}).get(n, target_error) for n in data.entity_types()}
    in_force = check_rules(
        with_table(probe, active), queries, verdicts, type_targets, active.version
    )
    reports: dict[str, TypeReport] = {}
    entries: dict[str, EntityCalibration] = {}
    for name, target in type_targets.items():
        report, entry = calibrate_type(
            name, data.of_type(name), target, data.margins[name],
            data.default_thresholds[name], seed, in_force[name], keep_unproven,
        )  # fmt: skip
        reports[name] = report
        if entry is not None:
            entries[name] = entry
    for name, entry in active.entity_types.items():
        entries.setdefault(name, entry)  # what was in force stays where the report says so
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
    table = CalibrationTable(version=version, entity_types=entries)
    applied = check_rules(with_table(probe, table), queries, verdicts, type_targets, version)
    reports = {n: r.model_copy(update={"applied": applied[n]}) for n, r in reports.items()}
    return CalibrationVersion(
        version=version,
        created_at=created,
        model_version=data.model_version,
        parent=active.version,
        labels_file=str(labels_path),
        labels_sha256=digest,
        counts=counts,
        types=reports,
        table=table,
    )
