"""`canon calibrate`: fit a calibration version from labels, activate it, roll back, report.

    canon calibrate --workdir W --labels F [--target-error 0.005] [--report out.html]
    canon calibrate --workdir W --activate VERSION|default
    canon calibrate --workdir W --rollback
    canon calibrate --workdir W --list
    canon calibrate --workdir W --report out.html [--version V] [--recent resolutions.jsonl]

Tables go to stdout, messages to stderr; bad input is one line on stderr, exit code 2, and no
new version. Exit code 3 (`EXIT_RULE_MISSES`) after fitting: for some entity type the rule in
force does not meet the target on the labels (95 % upper bound on its wrong-match rate above
it); the version is written, applies the safer rule it can prove, and one warning line says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.measure import Measurement
from rich.table import Table

from api.cli.common import fail, out, readable_errors, say
from calibration import (
    DEFAULT_TARGET,
    DEFAULT_VERSION,
    CalibrationError,
    CalibrationVersion,
    RuleCheck,
    TypeReport,
    activate,
    active_version,
    calibrate,
    drift,
    is_halt,
    list_versions,
    load_version,
    outside_text,
    read_resolutions,
    render_report,
    rollback,
    save_version,
    write_report,
)
from resolver import ResolverError, current_model_dir


def parse_targets(pairs: list[str]) -> dict[str, float]:
    """`supplier=0.01` pairs → {entity type: target wrong-match rate}."""
    targets = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            rate = float(value) if sep and name else -1.0
        except ValueError:
            rate = -1.0
        if not 0.0 < rate < 1.0:
            fail(f"--target-error-for: expected TYPE=RATE with 0 < RATE < 1, got {pair!r}")
        targets[name.strip()] = rate
    return targets


#: `canon calibrate --labels` exit status when, for some entity type, the rule in force does not
#: meet the target on the labels (the version is still written: it applies the safer rule).
EXIT_RULE_MISSES = 3

_VERDICT = {
    "meets": "meets",
    "exceeds": "EXCEEDS",
    "unproven": "NOT PROVEN",
    "halts": "halts",
}


def _pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}%}"


def _check(c: RuleCheck | None) -> tuple[str, str]:
    """wrong/auto and the upper bound of a rule run on the labels."""
    if c is None:
        return "—", "—"
    if c.verdict == "halts":
        return "0/0", "—"
    return f"{c.wrong}/{c.auto}", _pct(c.upper, 2)


def _in_force(r: TypeReport) -> str:
    c = r.in_force
    if c is None:
        return "—"
    if c.verdict == "halts":
        return "no match"
    return f"P≥{c.threshold:.4g} gap≥{c.margin:g}"


def _rule(r: TypeReport) -> str:
    """The rule this version applies to the type."""
    if r.status == "halted":
        return "no match"
    if r.threshold is None:
        return "kept"
    return f"P≥{r.threshold:.4f} gap≥{r.margin:g}"


def _held_out(r: TypeReport) -> str:
    if r.status not in ("calibrated", "stricter"):
        return "—"
    return f"{r.coverage:.1%} ({_pct(r.coverage_low)}–{_pct(r.coverage_high)})"


COLUMNS = (
    "entity type", "target", "labelled", "rule in force", "wrong/auto", "bound", "verdict",
    "this version", "wrong/auto ", "bound ", "auto-res.", "held-out (95 % CI)", "outside",
    "more labels",
)  # fmt: skip
#: Left-aligned columns; the others are right-aligned.
_LEFT = ("entity type", "rule in force", "verdict", "this version")


def version_rows(version: CalibrationVersion) -> list[tuple[str, ...]]:
    """One row per entity type, in `COLUMNS` order."""
    rows: list[tuple[str, ...]] = []
    for name, r in sorted(version.types.items()):
        before, after = _check(r.in_force), _check(r.applied)
        verdict = _VERDICT[r.in_force.verdict] if r.in_force is not None else "not checked"
        rows.append(
            (
                name, _pct(r.target_error, 2), str(r.rows), _in_force(r), *before, verdict,
                _rule(r), *after, _pct(r.applied.coverage) if r.applied is not None else "—",
                _held_out(r), str(sum(r.outside.values())),
                str(r.labels_needed) if r.labels_needed is not None else "—",
            )
        )  # fmt: skip
    return rows


def print_version(version: CalibrationVersion) -> None:
    """The per-type table of a version (one block per type when the terminal is too narrow for
    the table), then why each type came out as it did."""
    title = f"calibration {version.version} (model {version.model_version})"
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in _LEFT else "right", no_wrap=True)
    rows = version_rows(version)
    for row in rows:
        table.add_row(*row)
    natural = Measurement.get(out, out.options.update_width(10_000), table).maximum
    if natural <= out.width:
        out.print(table)
    else:  # a vertical form: every value whole, whatever the width
        out.print(title, highlight=False, markup=False)
        labels = ("rule in force", "  wrong/auto", "  bound", "  verdict", "this version",
                  "  wrong/auto", "  bound")  # fmt: skip
        names = [*COLUMNS[:3], *labels, *COLUMNS[10:]]
        width = max(len(c) for c in names)
        for row, r in zip(rows, (version.types[n] for n in sorted(version.types)), strict=True):
            out.print(f"\n{row[0]}", highlight=False, markup=False)
            for col, value in zip(names[1:], row[1:], strict=True):
                if col == "outside":
                    value = f"{value} ({outside_text(r)})"
                out.print(f"  {col:<{width}}  {value}", highlight=False, markup=False)
    for name, r in sorted(version.types.items()):
        say(f"{name}: {r.reason}")
        if r.outside:
            say(
                f"{name}: outside the calibration (held before the probability decides, so the"
                f" threshold proves nothing of them): {outside_text(r)}"
            )


def rule_misses(version: CalibrationVersion) -> str | None:
    """One line naming the entity types whose rule in force misses the target, if any."""
    missed = [
        (name, r.in_force)
        for name, r in sorted(version.types.items())
        if r.in_force is not None and not r.in_force.meets
    ]
    if not missed:
        return None
    parts = "; ".join(
        f"{name} {c.wrong} wrong of {c.auto}, bound {c.upper:.2%} > {c.target:.2%}"
        for name, c in missed
    )
    return (
        f"warning: the rule in force does not meet the target ({parts}); version"
        f" {version.version} applies the safer rule it can prove"
    )


def _report_target(workdir: Path, version: str | None) -> CalibrationVersion:
    if version:
        return load_version(workdir, version)
    active = active_version(workdir)
    if active != DEFAULT_VERSION:
        return load_version(workdir, active)
    saved = list_versions(workdir)
    if not saved:
        raise CalibrationError(f"{workdir}: no calibration version yet (run with --labels)")
    return saved[-1]


def _report(
    workdir: Path, version: CalibrationVersion, report: Path | None, recent: Path | None
) -> None:
    resolutions = read_resolutions(recent) if recent is not None else None
    if resolutions is not None:
        table = Table(title=f"drift of {version.version}")
        for col in ("entity type", "recent", "PSI", "status", "note"):
            table.add_column(col, justify="right" if col in ("recent", "PSI") else "left")
        for row in drift(version, resolutions):
            psi = f"{row.psi:.3f}" if row.psi is not None else "—"
            table.add_row(row.entity_type, str(row.recent), psi, row.status, row.note)
        out.print(table)
    if report is not None:
        parent = None
        if version.parent != DEFAULT_VERSION:
            try:
                parent = load_version(workdir, version.parent)
            except CalibrationError:
                say(f"note: previous version {version.parent} is gone; comparing with defaults")
        write_report(report, render_report(version, parent, resolutions))
        say(f"wrote {report}")


def calibrate_cmd(
    workdir: Annotated[Path, typer.Option("--workdir", "-w", help="Canon's working folder")] = Path(
        "var"
    ),
    labels: Annotated[Path | None, typer.Option(help="labels, CSV or Parquet")] = None,
    target_error: Annotated[
        float, typer.Option(help="target wrong-match rate among auto-resolved")
    ] = DEFAULT_TARGET,
    target_error_for: Annotated[
        list[str] | None, typer.Option(help="per-type target, TYPE=RATE (repeatable)")
    ] = None,
    activate_version: Annotated[
        str | None, typer.Option("--activate", help="make VERSION (or 'default') active")
    ] = None,
    rollback_flag: Annotated[
        bool, typer.Option("--rollback", help="return to the previously active calibration")
    ] = False,
    list_flag: Annotated[bool, typer.Option("--list", help="list the saved versions")] = False,
    report: Annotated[Path | None, typer.Option(help="write a static HTML report")] = None,
    version: Annotated[str | None, typer.Option(help="version to report on")] = None,
    recent: Annotated[
        Path | None, typer.Option(help="recent resolutions (JSON lines) to check for drift")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the cross-validation folds")] = 0,
    keep_unproven: Annotated[
        bool,
        typer.Option(
            "--keep-unproven",
            help="where no threshold is proven, keep the rule in force even when it misses the"
            " target (exit status 3 still says so) instead of a stricter rule or a halt",
        ),
    ] = False,
) -> None:
    """Fit per-entity-type calibrated probabilities and thresholds from labelled outcomes."""
    actions = [labels is not None, activate_version is not None, rollback_flag, list_flag]
    if sum(actions) > 1:
        fail("give one of --labels, --activate, --rollback, --list")
    if sum(actions) == 0 and report is None and recent is None:
        fail("give --labels FILE, --activate VERSION, --rollback, --list or --report FILE")
    if not 0.0 < target_error < 1.0:
        fail(f"--target-error: expected a rate between 0 and 1, got {target_error}")
    targets = parse_targets(target_error_for or [])
    with readable_errors(first_line=True):
        if labels is not None:
            fitted = calibrate(
                workdir, labels, target_error, targets, seed=seed, keep_unproven=keep_unproven
            )
            path = save_version(workdir, fitted)
            print_version(fitted)
            if any(t.status != "default_kept" for t in fitted.types.values()):
                say(f"wrote {path}; activate with: canon calibrate -w {workdir} --activate "
                    f"{fitted.version}")  # fmt: skip
            else:
                say(f"wrote {path}; no entity type was calibrated, so there is nothing new to"
                    " activate")  # fmt: skip
            _report(workdir, fitted, report, recent)
            warning = rule_misses(fitted)
            if warning is not None:
                say(warning)
                raise typer.Exit(code=EXIT_RULE_MISSES)
        elif activate_version is not None:
            previous = activate(workdir, activate_version)
            say(f"active calibration: {activate_version} (was {previous})")
            if activate_version != DEFAULT_VERSION:
                activated = load_version(workdir, activate_version)
                _warn_model(workdir, activated)
                halted = sorted(k for k, e in activated.table.entity_types.items() if is_halt(e))
                if halted:
                    say(f"note: {', '.join(halted)} now never `match` (halted until more labels"
                        " prove a threshold); their queries halt for a human")  # fmt: skip
        elif rollback_flag:
            before, after = rollback(workdir)
            say(f"rolled back: active calibration {after} (was {before})")
        elif list_flag:
            _list(workdir)
        else:
            _report(workdir, _report_target(workdir, version), report, recent)


def _warn_model(workdir: Path, version: CalibrationVersion) -> None:
    try:
        current = current_model_dir(workdir).name
    except ResolverError:
        return
    if current != version.model_version:
        say(f"note: fitted on model {version.model_version}, the workdir serves {current}")


def _list(workdir: Path) -> None:
    active = active_version(workdir)
    table = Table(title=f"calibration versions in {workdir} (active: {active})")
    for col in ("", "version", "created", "model", "parent", "thresholds"):
        table.add_column(col)
    for v in list_versions(workdir):
        thresholds = ", ".join(
            f"{k} no match" if is_halt(e) else f"{k} {e.threshold:.4f}"
            for k, e in sorted(v.table.entity_types.items())
        )
        table.add_row(
            "*" if v.version == active else "", v.version, v.created_at.isoformat(),
            v.model_version, v.parent, thresholds or "defaults",
        )  # fmt: skip
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add `canon calibrate` to the app."""
    app.command("calibrate")(calibrate_cmd)
