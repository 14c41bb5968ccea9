"""Calibration versions in a workdir: write, list, activate, roll back.

    <workdir>/calibration/versions/<version>.json   one `CalibrationVersion` per fit
    <workdir>/calibration/active.json               the `CalibrationTable` the resolver reads
    <workdir>/calibration/history.jsonl             one line per activation or rollback

Activation replaces `active.json` atomically (`resolver.atomic`: temp file + os.replace), so a
resolver loading concurrently sees the old table or the new one, never half of one; activating
`default` removes it (the profile's defaults apply). The history is a stack: an activation
pushes, a rollback pops back to what was active before — one command, however many times it is
repeated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from calibration.errors import VersionError
from calibration.record import DEFAULT_VERSION, CalibrationVersion
from resolver import ResolverError, load_active
from resolver.atomic import atomic_write_text

CALIBRATION_DIR = "calibration"


def _dir(workdir: Path) -> Path:
    return workdir / CALIBRATION_DIR


def version_path(workdir: Path, version: str) -> Path:
    """Where a version's file lives (whether or not it exists)."""
    return _dir(workdir) / "versions" / f"{version}.json"


def save_version(workdir: Path, version: CalibrationVersion) -> Path:
    """Write a version's file; an existing version is never overwritten."""
    path = version_path(workdir, version.version)
    if path.exists():
        raise VersionError(f"{path}: version {version.version} already exists")
    atomic_write_text(path, version.model_dump_json(indent=1))
    return path


def load_version(workdir: Path, version: str) -> CalibrationVersion:
    """A saved version, or VersionError naming the known ones."""
    path = version_path(workdir, version)
    if "/" in version or "\\" in version or not path.exists():
        known = ", ".join(v.version for v in list_versions(workdir)) or "none"
        raise VersionError(f"unknown calibration version {version!r} (known: {known})")
    try:
        return CalibrationVersion.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as e:
        raise VersionError(f"{path}: not a valid calibration version") from e


def list_versions(workdir: Path) -> list[CalibrationVersion]:
    """Every saved version, oldest first."""
    folder = _dir(workdir) / "versions"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            found.append(CalibrationVersion.model_validate_json(path.read_text(encoding="utf-8")))
        except (ValidationError, ValueError) as e:
            raise VersionError(f"{path}: not a valid calibration version") from e
    return sorted(found, key=lambda v: (v.created_at, v.version))


def active_version(workdir: Path) -> str:
    """The version the resolver of this workdir decides with (`default` when none)."""
    try:
        return load_active(workdir).version
    except ResolverError as e:
        raise VersionError(str(e)) from e


@dataclass(frozen=True)
class HistoryEntry:
    """One line of history.jsonl."""

    at: str
    action: str
    version: str
    previous: str


def history(workdir: Path) -> list[HistoryEntry]:
    """Every activation and rollback, oldest first."""
    return history_at(_dir(workdir) / "history.jsonl")


def history_at(path: Path) -> list[HistoryEntry]:
    """Every activation and rollback of a history file, oldest first (calibrations' and
    models' alike)."""
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(HistoryEntry(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as e:
            raise VersionError(f"{path}:{n}: not a history entry") from e
    return out


def _record(workdir: Path, action: str, version: str, previous: str) -> None:
    record_at(_dir(workdir) / "history.jsonl", action, version, previous)


def record_at(path: Path, action: str, version: str, previous: str) -> None:
    """Append one activation or rollback to a history file."""
    entry = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "action": action,
        "version": version,
        "previous": previous,
    }
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def _switch(workdir: Path, version: str) -> None:
    active = _dir(workdir) / "active.json"
    if version == DEFAULT_VERSION:
        active.unlink(missing_ok=True)
        return
    table = load_version(workdir, version).table
    atomic_write_text(active, table.model_dump_json(indent=1))


def activate(workdir: Path, version: str) -> str:
    """Make `version` (or `default`) the active calibration; returns the one it replaced."""
    if version != DEFAULT_VERSION:
        load_version(workdir, version)  # fail before touching anything
    previous = active_version(workdir)
    _dir(workdir).mkdir(parents=True, exist_ok=True)
    _switch(workdir, version)
    _record(workdir, "activate", version, previous)
    return previous


def _stack(workdir: Path) -> list[str]:
    return stack_of(history(workdir), DEFAULT_VERSION)


def stack_of(entries: list[HistoryEntry], base: str) -> list[str]:
    """The versions activated over `base`, in order, after the rollbacks: the last is the
    active one, and a rollback returns to the one before it."""
    stack = [base]
    for entry in entries:
        if entry.action == "rollback":
            if len(stack) > 1:
                stack.pop()
        else:
            stack.append(entry.version)
    return stack


def rollback(workdir: Path) -> tuple[str, str]:
    """Return to the calibration active before the current one; returns (from, to)."""
    current = active_version(workdir)
    stack = _stack(workdir)
    if stack[-1] != current:
        # The last switch happened but its history line was not written (a crash between the
        # two): the stack's top is what was active before it, and going back is re-activating it.
        _switch(workdir, stack[-1])
        _record(workdir, "activate", stack[-1], current)
        return current, stack[-1]
    if len(stack) < 2:
        raise VersionError("nothing to roll back to: no calibration was activated before this one")
    _switch(workdir, stack[-2])
    _record(workdir, "rollback", stack[-2], current)
    return current, stack[-2]
