"""README.md stays true: every `canon …` and `make …` command it shows exists and parses, its
generated outputs are the ones `scripts/readme_outputs.py` makes, and the commands cheap enough
to run here print what the README shows (columns, first words), against the committed sample."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli import app, register_all

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SAMPLE = ROOT / "data" / "samples" / "protheus"
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Shown:
    """A command the README shows: its line and its words (`canon` or `make` first)."""

    line: int
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"README.md:{self.line}: {' '.join(self.words)}"


def _blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of every fenced block."""
    blocks: list[tuple[str, int, list[str]]] = []
    lang: str | None = None
    start, body = 0, list[str]()
    for n, line in enumerate(text.splitlines(), start=1):
        m = FENCE.match(line)
        if m and lang is None:
            lang, start, body = m.group(1), n + 1, []
        elif line.startswith("```") and lang is not None:
            blocks.append((lang, start, body))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def shown_commands(text: str) -> list[Shown]:
    """The `canon` and `make` commands of the README's shell blocks: every line of a `sh`
    block, the `$ ` lines of any other block; continuation lines joined, comments dropped,
    `[--optional parts]` kept as given."""
    found = []
    for lang, start, body in _blocks(text):
        if lang in ("yaml", "json"):
            continue
        n, pending, first = start - 1, "", 0
        for line in body:
            n += 1
            if not pending:
                if lang != "sh" and not line.startswith("$ "):
                    continue
                first = n
            part = line.removeprefix("$ ").rstrip()
            if part.endswith("\\"):
                pending += part[:-1] + " "
                continue
            command, pending = pending + part, ""
            if not re.match(r"(\.venv/bin/)?(canon|make) ", command):
                continue  # curl and the like: not checked here
            command = re.sub(r"\[(--[^\]]*)\]", r"\1", command)
            words = shlex.split(command, comments=True)
            if words and words[0].endswith("bin/canon"):
                words[0] = "canon"
            if words and words[0] in ("canon", "make"):
                found.append(Shown(first, tuple(words)))
    return found


COMMANDS = shown_commands(README.read_text(encoding="utf-8"))


@cache
def _cli() -> Any:
    register_all()
    return typer.main.get_command(app)


def _resolve_command(words: tuple[str, ...]) -> tuple[Any, list[str], list[str]]:
    """The click command the words name, its path, and the words left for it."""
    command, path, rest = _cli(), [], list(words[1:])
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return command, path, rest


def test_the_readme_shows_commands_of_every_kind() -> None:
    kinds = {(c.words[0], c.words[1]) for c in COMMANDS}
    assert {("make", "demo"), ("make", "test"), ("canon", "train"), ("canon", "rollout")} <= kinds
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("shown", [c for c in COMMANDS if c.words[0] == "canon"], ids=str)
def test_every_canon_command_exists_and_parses(shown: Shown) -> None:
    command, path, rest = _resolve_command(shown.words)
    assert not hasattr(command, "commands"), f"{shown}: `canon {' '.join(path)}` needs a command"
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for word in rest:
        if word.startswith("-") and not re.fullmatch(r"-\d.*", word):
            assert word.split("=", 1)[0] in known, f"{shown}: no option {word} (known: {known})"
    # Parsing checks the values too: counts, types, choices, required options.
    command.make_context(" ".join(["canon", *path]), rest)
    help_run = CliRunner().invoke(app, [*path, "--help"])
    assert help_run.exit_code == 0, help_run.output


@pytest.mark.parametrize("shown", [c for c in COMMANDS if c.words[0] == "make"], ids=str)
def test_every_make_command_names_a_target(shown: Shown) -> None:
    proc = subprocess.run(
        ["make", "-n", *shown.words[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{shown}: {proc.stderr}"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "readme_outputs", ROOT / "scripts" / "readme_outputs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_block_is_one_the_script_makes() -> None:
    script = _script()
    blocks = script.marked_blocks(README.read_text(encoding="utf-8"))
    assert {name for name, _, _ in blocks} == set(script.OUTPUTS)
    for name, start, end in blocks:
        assert end > start, f"README.md:{start}: the {name} block is empty; run make readme-outputs"


# -- the cheap commands, run ----------------------------------------------------------------


def canon(*args: str | Path) -> str:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "canon"), *map(str, args)],
        capture_output=True, text=True, timeout=600, check=False, env=_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "80"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The committed sample trained, and what `canon train` printed."""
    w = tmp_path_factory.mktemp("readme-workdir")
    return w, canon("train", "--data", SAMPLE / "data", "--workdir", w)


def _block(name: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    for found, start, end in _script().marked_blocks(text):
        if found == name:
            return text.splitlines()[start:end]
    raise AssertionError(f"README.md has no {name} block")


def _header(lines: list[str]) -> list[str]:
    """The column names of a rich table's header row (words between the box lines)."""
    row = next(line for line in lines if line.startswith("┃"))
    return [cell.strip() for cell in row.strip("┃").split("┃")]


def test_train_prints_the_documented_table_and_weights(workdir: tuple[Path, str]) -> None:
    _, printed = workdir
    lines = printed.splitlines()
    assert _header(lines) == _header(_block("train")) == [
        "entity type", "rows", "seconds",
    ]  # fmt: skip
    assert max(len(line) for line in lines[: lines.index("match weights per level (bits):")]) <= 80
    supplier = next(line for line in lines if line.strip().startswith("supplier") and ":" in line)
    assert re.search(r"name: [+-]\d+\.\d( [+-]\d+\.\d)+; tax_id: ", supplier)
    shown = next(
        line for line in _block("train") if line.strip().startswith("supplier") and ":" in line
    )
    assert shown.split(":")[0].split() == supplier.split(":")[0].split() == ["supplier", "name"]


def test_resolve_prints_the_documented_fields(workdir: tuple[Path, str]) -> None:
    w, _ = workdir
    script = _script()
    for name, query in (("resolve-match", script.MATCH_QUERY), ("resolve-halt", script.HALT_QUERY)):
        body = json.loads(canon("resolve", "--workdir", w, "--json", json.dumps(query)))
        assert {"id", "decision", "canonical_id", "entity_type", "candidates", "reason",
                "distinguishing_fields", "model_version", "calibration_version",
                "resolution_token"} <= set(body)  # fmt: skip
        shown = json.loads(_block(name)[0].split(', "candidates"')[0].rstrip("}") + "}")
        assert set(shown) <= set(body)
    match = json.loads(_block("resolve-match")[0])
    halt = json.loads(_block("resolve-halt")[0].split(', "candidates"')[0] + "}")
    assert match["decision"] == "match" and match["canonical_id"].startswith("SA2:")
    assert halt["decision"] == "ambiguous" and halt["canonical_id"] is None


def test_evaluate_prints_the_documented_summary(workdir: tuple[Path, str]) -> None:
    w, _ = workdir
    printed = canon(
        "evaluate", "--workdir", w,
        "--queries", SAMPLE / "queries.jsonl", "--truth", SAMPLE / "expected.jsonl",
    ).splitlines()  # fmt: skip
    summary = printed[max(i for i, line in enumerate(printed) if line.strip() == "summary") :]
    shown = _block("evaluate")
    assert _header(summary) == _header(shown)
    rows = [line.strip("│ ").split()[0] for line in summary if line.startswith("│")]
    assert rows == [line.strip("│ ").split()[0] for line in shown if line.startswith("│")]
    assert rows == ["Canon", "baseline"]
    # The per-kind table above it keeps every kind's whole name in 80 columns.
    kinds = {json.loads(line)["kind"] for line in (SAMPLE / "expected.jsonl").open()}
    cells = {line.split("│")[1].strip() for line in printed if line.startswith("│")}
    assert kinds <= cells and max(len(line) for line in printed) <= 80


def test_rollout_set_prints_what_the_readme_shows(tmp_path: Path) -> None:
    """The README's promotion without a drill: demoted, then refused with the reason."""
    text = README.read_text(encoding="utf-8")
    env = {**_env(), "CANON_WORKDIR": str(tmp_path)}
    for expected in ("purchase_order.close: supervised -> read_only",):
        assert expected in text
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "canon"), "rollout", "set",
             "purchase_order.close", "read_only"],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
        assert proc.returncode == 0 and proc.stdout.strip() + proc.stderr.strip() == expected
    refused = subprocess.run(
        [str(Path(sys.executable).parent / "canon"), "rollout", "set",
         "purchase_order.close", "supervised"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    shown = next(
        line for line in text.splitlines() if line.startswith("error: purchase_order.close")
    )
    assert refused.returncode == 1 and refused.stderr.strip() == shown
