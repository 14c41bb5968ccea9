"""Versions: saved once, activated atomically, rolled back one step at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calibration import (
    CalibrationVersion,
    VersionError,
    activate,
    active_version,
    history,
    list_versions,
    load_version,
    rollback,
    save_version,
)
from resolver import load_active, load_resolver


def named(fitted: CalibrationVersion, name: str) -> CalibrationVersion:
    table = fitted.table.model_copy(update={"version": name})
    return fitted.model_copy(update={"version": name, "table": table})


@pytest.fixture
def two(workdir: Path, fitted: CalibrationVersion) -> tuple[str, str]:
    for name in ("v1", "v2"):
        save_version(workdir, named(fitted, name))
    return "v1", "v2"


def test_a_saved_version_loads_back_and_is_never_overwritten(
    workdir: Path, fitted: CalibrationVersion
):
    save_version(workdir, fitted)
    assert load_version(workdir, fitted.version) == fitted
    with pytest.raises(VersionError, match="already exists"):
        save_version(workdir, fitted)


def test_activation_writes_the_table_the_resolver_reads(workdir: Path, two: tuple[str, str]):
    assert active_version(workdir) == "default"
    assert activate(workdir, "v1") == "default"
    assert load_active(workdir) == load_version(workdir, "v1").table
    assert load_resolver(workdir).calibration.version == "v1"
    leftovers = [p.name for p in (workdir / "calibration").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the temp file was renamed into place


def test_rollback_walks_back_one_activation_at_a_time(workdir: Path, two: tuple[str, str]):
    activate(workdir, "v1")
    activate(workdir, "v2")
    assert rollback(workdir) == ("v2", "v1")
    assert active_version(workdir) == "v1"
    assert rollback(workdir) == ("v1", "default")
    assert not (workdir / "calibration" / "active.json").exists()
    with pytest.raises(VersionError, match="nothing to roll back to"):
        rollback(workdir)
    actions = [(h.action, h.version, h.previous) for h in history(workdir)]
    assert actions == [
        ("activate", "v1", "default"),
        ("activate", "v2", "v1"),
        ("rollback", "v1", "v2"),
        ("rollback", "default", "v1"),
    ]


def test_activating_default_returns_to_the_profile(workdir: Path, two: tuple[str, str]):
    activate(workdir, "v2")
    assert activate(workdir, "default") == "v2"
    assert load_resolver(workdir).calibration.version == "default"
    assert rollback(workdir) == ("default", "v2")


def test_an_unknown_version_changes_nothing(workdir: Path, two: tuple[str, str]):
    activate(workdir, "v1")
    with pytest.raises(VersionError, match=r"unknown calibration version 'v9' \(known: v1, v2\)"):
        activate(workdir, "v9")
    with pytest.raises(VersionError, match="unknown"):
        activate(workdir, "../../etc/passwd")
    assert active_version(workdir) == "v1" and len(history(workdir)) == 1


def test_rollback_after_a_switch_whose_history_line_was_lost(workdir: Path, two: tuple[str, str]):
    activate(workdir, "v1")
    # v2 switched in, then the process died before recording it
    table = load_version(workdir, "v2").table
    (workdir / "calibration" / "active.json").write_text(table.model_dump_json(), "utf-8")
    assert rollback(workdir) == ("v2", "v1")
    assert active_version(workdir) == "v1"


def test_list_versions_oldest_first_and_a_corrupt_file_is_named(
    workdir: Path, two: tuple[str, str]
):
    assert [v.version for v in list_versions(workdir)] == ["v1", "v2"]
    bad = workdir / "calibration" / "versions" / "v3.json"
    bad.write_text(json.dumps({"version": "v3"}), "utf-8")
    with pytest.raises(VersionError, match="v3.json: not a valid calibration version"):
        list_versions(workdir)
