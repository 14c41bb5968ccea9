"""A model trained once per session on the committed sample, and its simulated labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from calibration import CalibrationVersion, calibrate, write_simulated_labels
from resolver import train_workdir

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus"
#: The committed sample is small (300 queries): 0.5 % cannot be proven on it, 5 % can.
LOOSE_TARGET = 0.05


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("cal-trained")
    train_workdir(SAMPLE / "data", workdir)
    return workdir


@pytest.fixture(scope="session")
def sample_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`labels.csv` as `canon sample` writes it, for the committed sample."""
    folder = tmp_path_factory.mktemp("cal-sample")
    for name in ("queries.jsonl", "expected.jsonl"):
        shutil.copy(SAMPLE / name, folder / name)
    return write_simulated_labels(folder)


@pytest.fixture
def workdir(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained workdir: versions written by one test stay in it."""
    return Path(shutil.copytree(trained, tmp_path / "work"))


@pytest.fixture(scope="session")
def fitted(trained: Path, sample_labels: Path) -> CalibrationVersion:
    """One calibration of the sample (not saved), at a target the sample can prove."""
    return calibrate(trained, sample_labels, target_error=LOOSE_TARGET)
