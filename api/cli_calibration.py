"""`canon calibrate`: fit a calibration version from labels, activate it, roll back, report.

    canon calibrate --workdir W --labels F [--target-error 0.005] [--report out.html]
    canon calibrate --workdir W --activate VERSION|default
    canon calibrate --workdir W --rollback
    canon calibrate --workdir W --list
    canon calibrate --workdir W --report out.html [--version V] [--recent resolutions.jsonl]

Tables go to stdout, messages to stderr; bad input is one line on stderr, exit code 2, and no
new version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from calibration import (
    DEFAULT_TARGET,
    DEFAULT_VERSION,
    CalibrationError,
    CalibrationVersion,
    activate,
    active_version,
    calibrate,
    drift,
    list_versions,
    load_version,
    read_resolutions,
    render_report,
    rollback,
    save_version,
    write_report,
)
from resolver import ResolverError, current_model_dir

err = Console(stderr=True)
out = Console()


def say(message: str) -> None:
    err.print(message, highlight=False, soft_wrap=True, markup=False)


def fail(message: str) -> NoReturn:
    """One readable line on stderr and exit code 2."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


@contextmanager
def readable_errors() -> Iterator[None]:
    try:
        yield
    except (CalibrationError, ResolverError) as e:
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except OSError as e:
        fail(f"{e.filename or ''}: {e.strerror or e}")


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


COLUMNS = (
    "entity type", "status", "method", "labelled", "correct/wrong", "ECE before", "ECE after",
    "threshold", "auto-res.", "auto/wrong", "upper bound", "more labels",
)  # fmt: skip


def print_version(version: CalibrationVersion) -> None:
    """The per-type table of a version, then why each type came out as it did."""
    table = Table(title=f"calibration {version.version} (model {version.model_version})")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in COLUMNS[:3] else "right")
    for name, r in sorted(version.types.items()):
        calibrated = r.status == "calibrated"
        table.add_row(
            name, r.status.replace("_", " "), r.method or "—", str(r.rows),
            f"{r.correct}/{r.wrong}", f"{r.ece_before:.4f}", f"{r.ece_after:.4f}",
            f"{r.threshold:.4f}" if r.threshold is not None else "default",
            f"{r.coverage:.1%}" if calibrated else "—",
            f"{r.auto}/{r.wrong_at_threshold}" if calibrated else "—",
            f"{r.upper_bound:.2%}" if r.upper_bound is not None else "—",
            str(r.labels_needed) if r.labels_needed is not None else "—",
        )  # fmt: skip
    out.print(table)
    for name, r in sorted(version.types.items()):
        say(f"{name}: {r.reason}")


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
    with readable_errors():
        if labels is not None:
            fitted = calibrate(workdir, labels, target_error, targets, seed=seed)
            path = save_version(workdir, fitted)
            print_version(fitted)
            say(f"wrote {path}; activate with: canon calibrate -w {workdir} --activate "
                f"{fitted.version}")  # fmt: skip
            _report(workdir, fitted, report, recent)
        elif activate_version is not None:
            previous = activate(workdir, activate_version)
            say(f"active calibration: {activate_version} (was {previous})")
            if activate_version != DEFAULT_VERSION:
                _warn_model(workdir, load_version(workdir, activate_version))
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
            f"{k} {e.threshold:.4f}" for k, e in sorted(v.table.entity_types.items())
        )
        table.add_row(
            "*" if v.version == active else "", v.version, v.created_at.isoformat(),
            v.model_version, v.parent, thresholds or "defaults",
        )  # fmt: skip
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add `canon calibrate` to the app."""
    app.command("calibrate")(calibrate_cmd)
