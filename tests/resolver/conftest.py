"""A model trained once per test session on the committed Protheus sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resolver import Resolver, load_resolver, train_workdir

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def trained_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("workdir")
    train_workdir(SAMPLE / "data", workdir)
    return workdir


@pytest.fixture(scope="session")
def resolver(trained_workdir: Path) -> Resolver:
    return load_resolver(trained_workdir)


@pytest.fixture(scope="session")
def expected() -> dict[str, dict[str, object]]:
    lines = (SAMPLE / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return {str(r["id"]): r for r in rows}


@pytest.fixture(scope="session")
def queries() -> list[dict[str, object]]:
    lines = (SAMPLE / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
