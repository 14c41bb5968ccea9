"""The steward's report: one static HTML page (inline SVG, no scripts) of a calibration version —
per-type table, reliability diagrams, precision/coverage curves, what changed since the previous
version, and drift against recent resolves. The notebook shows the same pieces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from calibration.drift import DriftRow, bin_counts, drift
from calibration.record import CalibrationVersion, RuleCheck, TypeReport
from calibration.rules import is_halt
from calibration.svg import histogram_svg, reliability_svg, threshold_svg
from resolver import Resolution
from resolver.atomic import atomic_write_text


@dataclass(frozen=True)
class Change:
    """One entity type's decision rule before and after a version."""

    entity_type: str
    threshold_before: float
    threshold_after: float
    source_before: str
    source_after: str
    coverage_before: float | None
    coverage_after: float | None
    halted_before: bool = False
    halted_after: bool = False


def in_force(version: CalibrationVersion | None, report: TypeReport) -> tuple[float, str]:
    """The threshold a version applies to a type, and where it comes from."""
    if version is None or report.entity_type not in version.table.entity_types:
        return report.default_threshold, "profile default"
    entry = version.table.entity_types[report.entity_type]
    own = version.types.get(report.entity_type)
    if own is not None and own.status != "default_kept":
        return entry.threshold, version.version
    return entry.threshold, f"kept from {version.parent}"


def _halts(version: CalibrationVersion | None, name: str) -> bool:
    return version is not None and is_halt(version.table.entity_types.get(name))


def changes(new: CalibrationVersion, old: CalibrationVersion | None) -> list[Change]:
    """Per entity type of `new`: the rule of `old` (None: the profile defaults) and of `new`,
    with the auto-resolution each gives on `new`'s labels (run by the resolver when `new`
    recorded it; else what the versions' own held-out estimates said)."""
    out = []
    for name, report in sorted(new.types.items()):
        before, src_before = in_force(old, report)
        after, src_after = in_force(new, report)
        old_report = old.types.get(name) if old is not None else None
        checked = report.in_force.rule if report.in_force is not None else None
        was = src_before if src_before == "profile default" else (old.version if old else None)
        if report.in_force is not None and checked == was:
            cov_before: float | None = report.in_force.coverage
        else:
            cov_before = old_report.coverage if old_report else None
        if report.applied is not None:
            cov_after: float | None = report.applied.coverage
        else:
            cov_after = report.coverage if report.status == "calibrated" else None
        out.append(
            Change(
                entity_type=name,
                threshold_before=before,
                threshold_after=after,
                source_before=src_before,
                source_after=src_after,
                coverage_before=cov_before,
                coverage_after=cov_after,
                halted_before=_halts(old, name),
                halted_after=_halts(new, name),
            )
        )
    return out


def _pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}%}"


def _num(v: float | None, digits: int = 4) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


SUMMARY_HEADER = (
    "entity type", "status", "method", "labelled", "decidable", "outside calibration",
    "correct", "wrong", "ECE before", "ECE after", "Brier before", "Brier after", "target",
    "rule in force", "in force: wrong / auto", "in force: upper bound", "in force vs target",
    "threshold", "margin", "this version: wrong / auto", "this version: upper bound",
    "auto-resolution on the labels", "held-out auto-resolution (95 % interval)",
    "held-out auto / wrong", "held-out upper bound", "labels needed",
)  # fmt: skip

_VERDICTS = {
    "meets": "meets",
    "exceeds": "EXCEEDS",
    "unproven": "NOT PROVEN",
    "halts": "halts (no match)",
}


def _wrong_auto(c: RuleCheck | None) -> str:
    return "—" if c is None else f"{c.wrong} / {c.auto}"


def _bound(c: RuleCheck | None) -> str:
    return "—" if c is None or c.verdict == "halts" else _pct(c.upper, 2)


def _rule_text(c: RuleCheck | None) -> str:
    if c is None:
        return "not checked"
    if c.verdict == "halts":
        return f"{c.rule}: no match"
    return f"{c.rule}: P ≥ {c.threshold:.4g}, gap ≥ {c.margin:g}"


def _interval(r: TypeReport) -> str:
    if r.status not in ("calibrated", "stricter"):
        return "—"
    return f"{r.coverage:.1%} ({_pct(r.coverage_low)} – {_pct(r.coverage_high)})"


def outside_text(r: TypeReport) -> str:
    """Which halting rules held labelled queries before the probability decided, and how many."""
    if not r.outside:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in r.outside.items())


def summary_rows(version: CalibrationVersion) -> list[list[str]]:
    """The per-type table of the report (and the notebook), in `SUMMARY_HEADER` order."""
    rows = []
    for name, r in sorted(version.types.items()):
        fitted = r.status in ("calibrated", "stricter")
        c, a = r.in_force, r.applied
        rows.append(
            [
                name, r.status.replace("_", " "), r.method or "—", str(r.rows), str(r.decidable),
                outside_text(r), str(r.correct), str(r.wrong), _num(r.ece_before),
                _num(r.ece_after), _num(r.brier_before), _num(r.brier_after),
                _pct(r.target_error, 2), _rule_text(c), _wrong_auto(c), _bound(c),
                "not checked" if c is None else _VERDICTS[c.verdict],
                "no match" if r.status == "halted" else _num(r.threshold),
                f"{r.margin:g}", _wrong_auto(a), _bound(a),
                _pct(a.coverage) if a is not None else "—", _interval(r),
                f"{r.auto} / {r.wrong_at_threshold}" if fitted else "—",
                _pct(r.upper_bound, 2), "—" if r.labels_needed is None else str(r.labels_needed),
            ]
        )  # fmt: skip
    return rows


_CSS = """
body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:1em}.note{color:#555;font-size:13px}
.refit{color:#c53030;font-weight:bold}.wide{overflow-x:auto}
"""


def _drift_section(version: CalibrationVersion, recent: Sequence[Resolution]) -> str:
    rows: list[DriftRow] = drift(version, recent)
    table = _table(
        ("entity type", "recent resolves", "PSI", "status", "note"),
        [[r.entity_type, r.recent, _num(r.psi, 3), r.status, r.note] for r in rows],
    )
    figures = []
    for name, report in sorted(version.types.items()):
        if report.histogram is None:
            continue
        weights = [
            r.candidates[0].match_weight
            for r in recent
            if r.candidates and r.candidates[0].entity_type == name
        ]
        counts = bin_counts(report.histogram.edges, weights)  # the PSI's own binning
        figures.append(histogram_svg(report.histogram.edges, report.histogram.counts, counts, name))
    due = [r.entity_type for r in rows if r.status == "refit"]
    verdict = (
        f'<p class="refit">Re-fit due for: {escape(", ".join(due))}</p>'
        if due
        else '<p class="note">No entity type needs a re-fit.</p>'
    )
    return (
        f"<h2>Drift: recent resolves against calibration time</h2>{verdict}{table}"
        f'<div class="figs">{"".join(figures)}</div>'
    )


def _misses(version: CalibrationVersion) -> str:
    missed = [
        f"{name} ({c.wrong} wrong of {c.auto}, upper bound {c.upper:.2%} > {c.target:.2%})"
        for name, r in sorted(version.types.items())
        if (c := r.in_force) is not None and not c.meets
    ]
    if not missed:
        return ""
    return (
        '<p class="refit">The rule in force does not meet the target for: '
        f"{escape('; '.join(missed))}. This version applies the safer rule it can prove.</p>"
    )


def render_report(
    version: CalibrationVersion,
    previous: CalibrationVersion | None = None,
    recent: Sequence[Resolution] | None = None,
) -> str:
    """The whole report as one HTML page."""
    c = version.counts
    meta = _table(
        ("", "value"),
        [
            ["version", version.version],
            ["created", version.created_at.isoformat()],
            ["model version", version.model_version],
            ["active when fitted", version.parent],
            ["labels file", version.labels_file],
            ["labels sha-256", version.labels_sha256],
            ["labels", f"{c.labels} ({', '.join(f'{k}: {v}' for k, v in c.by_label.items())})"],
            ["sources", ", ".join(f"{k}: {v}" for k, v in c.by_source.items())],
            ["queries / used / unknown / no candidates",
             f"{c.queries} / {c.used} / {c.unknown} / {c.no_candidates}"],
        ],
    )  # fmt: skip
    change_rows = [
        [ch.entity_type, "no match" if ch.halted_before else _num(ch.threshold_before),
         ch.source_before, "no match" if ch.halted_after else _num(ch.threshold_after),
         ch.source_after, _pct(ch.coverage_before), _pct(ch.coverage_after)]
        for ch in changes(version, previous)
    ]  # fmt: skip
    per_type = []
    for name, r in sorted(version.types.items()):
        figs = reliability_svg(r.reliability_before, r.reliability_after, f"{name}: reliability")
        if r.curve:
            figs += threshold_svg(r.curve, r.threshold, r.target_error, f"{name}: threshold")
        per_type.append(
            f"<h3>{escape(name)}</h3><p>{escape(r.reason)}</p>"
            f'<p class="note">margin gate {r.margin:g} bits; default threshold '
            f"{r.default_threshold:g}; {r.derived} labels derived; {r.folds} folds</p>"
            f'<p class="note">Outside the calibration (held by a rule before the probability'
            f" decides, so the threshold proves nothing of them): {escape(outside_text(r))}</p>"
            f'<div class="figs">{figs}</div>'
        )
    drift_html = _drift_section(version, recent) if recent is not None else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Calibration {escape(version.version)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Calibration {escape(version.version)}</h1>{meta}"
        f"{_misses(version)}<h2>Per entity type</h2>"
        '<p class="note">Calibration metrics on held-out folds, over the decidable rows (those'
        " the margin gate and the resolver's other rules — tax-id conflict, corroboration —"
        " leave to the probability); the others are counted under <em>outside calibration</em>."
        " <em>Rule in force</em> (the rule active when fitted) and <em>this version</em> are"
        " run by the resolver itself on every labelled query: wrong / auto-resolved, and the"
        " one-sided 95 % upper bound on the wrong-match rate, against the target."
        " Auto-resolution: share of the type's labelled queries decided <code>match</code>;"
        " held-out: the same from folds that did not fit the calibrator, with its 95 %"
        " interval.</p>"
        f"{_table(SUMMARY_HEADER, summary_rows(version))}"
        f"<h2>What changed since {escape(previous.version if previous else 'the defaults')}</h2>"
        + _table(
            (
                "entity type",
                "threshold before",
                "from",
                "threshold after",
                "from",
                "auto-resolution before",
                "after",
            ),
            change_rows,
        )  # fmt: skip
        + f"{drift_html}<h2>Figures</h2>{''.join(per_type)}</body></html>"
    )


def write_report(path: Path, html: str) -> Path:
    """Write the page atomically."""
    return atomic_write_text(path, html)
