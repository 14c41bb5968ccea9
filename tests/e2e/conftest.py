"""End-to-end fixtures: a model trained once on the committed sample, and the real app served by
uvicorn on 127.0.0.1 (the tests talk to it over HTTP with httpx, `serving`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.serving import serving
from resolver import Resolver, load_resolver, train_workdir

__all__ = ["serving"]

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus" / "data"


@pytest.fixture(scope="session")
def gate_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workdir with a model trained on the committed Protheus sample (once per session)."""
    workdir = tmp_path_factory.mktemp("gate-workdir")
    train_workdir(SAMPLE_DATA, workdir)
    return workdir


@pytest.fixture(scope="session")
def trained_resolver(gate_workdir: Path) -> Resolver:
    return load_resolver(gate_workdir)
