"""`canon calibrate` and `canon sample` as a user runs them: files, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli.calibration import EXIT_RULE_MISSES
from calibration import Label, read_labels, write_labels
from resolver import load_resolver, parse_queries
from tests.calibration.conftest import SAMPLE

CANON = str(Path(sys.executable).parent / "canon")


def run(*args: str | Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CANON, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"COLUMNS": str(columns), "PATH": str(Path(sys.executable).parent)},
    )


def versions(workdir: Path) -> list[str]:
    folder = workdir / "calibration" / "versions"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []


def test_fit_report_activate_list_and_roll_back(workdir: Path, sample_labels: Path, tmp_path: Path):
    recent = tmp_path / "recent.jsonl"
    resolver = load_resolver(workdir)
    with recent.open("w", encoding="utf-8") as fh:  # what `canon resolve --output` writes
        for query in parse_queries(SAMPLE / "queries.jsonl"):
            body = resolver.resolve(query).model_dump(mode="json")
            fh.write(json.dumps({**body, "resolution_token": None}) + "\n")
    report = tmp_path / "out" / "report.html"
    fit = run("calibrate", "-w", workdir, "--labels", sample_labels, "--target-error", "0.05",
              "--report", report, "--recent", recent)  # fmt: skip
    # the sample's smaller types cannot prove 5 % under the default rule: exit 3, one warning
    assert fit.returncode == EXIT_RULE_MISSES, fit.stderr
    (version,) = versions(workdir)
    assert version in fit.stdout and "supplier" in fit.stdout and "NOT PROVEN" in fit.stdout
    assert "no match" in fit.stdout  # what the version does to the types it halts
    assert "│" in fit.stdout and "…" not in fit.stdout  # 200 columns: the table, every value whole
    assert "drift of" in fit.stdout and "stable" in fit.stdout
    assert f"--activate {version}" in fit.stderr
    warnings = [line for line in fit.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "rule in force does not meet the target" in warnings[0]
    assert "contact" in warnings[0] and "supplier" not in warnings[0]
    assert "<svg" in report.read_text(encoding="utf-8")
    assert load_resolver(workdir).calibration.version == "default"  # fitting does not activate

    act = run("calibrate", "-w", workdir, "--activate", version)
    assert act.returncode == 0, act.stderr
    assert "note: contact" in act.stderr and "never `match`" in act.stderr
    assert load_resolver(workdir).calibration.version == version
    again = run("calibrate", "-w", workdir, "--labels", sample_labels, "--target-error", "0.05")
    assert again.returncode == 0, again.stderr  # the rule now in force meets the target
    assert "warning:" not in again.stderr and "halts" in again.stdout
    assert load_resolver(workdir).calibration.version == version
    listed = run("calibrate", "-w", workdir, "--list")
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"\*\s*│\s*{version}", listed.stdout), listed.stdout  # the active mark
    assert "contact no match" in listed.stdout  # a halted type, not a threshold of 1

    back = run("calibrate", "-w", workdir, "--rollback")
    assert back.returncode == 0, back.stderr
    assert f"active calibration default (was {version})" in back.stderr
    assert load_resolver(workdir).calibration.version == "default"


def test_a_version_that_changes_nothing_offers_nothing_to_activate(
    workdir: Path, sample_labels: Path, tmp_path: Path
) -> None:
    few = tmp_path / "few.csv"
    lines = sample_labels.read_text(encoding="utf-8").splitlines(keepends=True)
    few.write_text("".join(lines[:150]), encoding="utf-8")  # too few to prove a threshold
    fit = run("calibrate", "-w", workdir, "--labels", few, "--target-error", "0.05",
              "--keep-unproven")  # fmt: skip
    assert fit.returncode == EXIT_RULE_MISSES, fit.stderr  # kept, and still unproven: warned
    assert "would prove a threshold;" in fit.stderr  # the sentence ends before the next
    assert "--activate" not in fit.stderr
    assert "no entity type was calibrated, so there is nothing new to activate" in fit.stderr


def test_a_narrow_terminal_gets_every_value_whole(workdir: Path, sample_labels: Path):
    narrow = run("calibrate", "-w", workdir, "--labels", sample_labels, "--target-error", "0.05",
                 columns=80)  # fmt: skip
    assert narrow.returncode == EXIT_RULE_MISSES
    lines = narrow.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), narrow.stdout
    assert "…" not in narrow.stdout
    for word in ("rule in force", "verdict", "this version", "held-out (95 % CI)", "outside"):
        assert any(line.strip().startswith(word) for line in lines), word
    supplier = lines.index("supplier")
    assert re.match(r"\s+labelled\s+\d+$", lines[supplier + 2])


def assert_readable_failure(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]


def _unknown_id(labels: list[Label], path: Path) -> Path:
    labels[0] = labels[0].model_copy(update={"canonical_id": "SA2::999999:99"})
    return write_labels(path, labels)


@pytest.mark.parametrize(
    ("make", "extra", "fragment"),
    [
        pytest.param(_unknown_id, [], "'SA2::999999:99' is not a supplier", id="unknown-id"),
        pytest.param(
            lambda ls, p: write_labels(p, [x for x in ls if x.label == "wrong"]), [],
            "every label is 'wrong'", id="one-class",
        ),
        pytest.param(
            lambda ls, p: write_labels(p, ls[:10]), [], "at least 30 are needed", id="too-few"
        ),
        pytest.param(
            lambda ls, p: write_labels(p, ls), ["--target-error", "2"], "--target-error",
            id="bad-target",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_no_new_version(
    workdir: Path, sample_labels: Path, tmp_path: Path, make, extra: list[str], fragment: str
):
    labels = make(read_labels(sample_labels), tmp_path / "labels.csv")
    proc = run("calibrate", "-w", workdir, "--labels", labels, *extra)
    assert_readable_failure(proc, fragment)
    assert versions(workdir) == []


def test_nothing_to_roll_back(workdir: Path):
    assert_readable_failure(run("calibrate", "-w", workdir, "--rollback"), "nothing to roll back")


def test_sample_writes_simulated_labels(tmp_path: Path):
    proc = run("sample", "--out", tmp_path / "s", "--suppliers", "100", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    labels = read_labels(tmp_path / "s" / "labels.csv")
    n_queries = len((tmp_path / "s" / "queries.jsonl").read_text("utf-8").splitlines())
    assert {str(lab.query.id) for lab in labels} == {
        str(q.id) for q in parse_queries(tmp_path / "s" / "queries.jsonl")
    }
    assert n_queries > 0 and {lab.source for lab in labels} == {"simulated_reviewer"}
