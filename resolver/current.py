"""The model in force in a workdir: `models/<version>/`, named by the `CURRENT` file.

Kept apart from training (`resolver.workdir`) so that serving, syncing and reading a model
import neither splink nor pandas.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from resolver.atomic import atomic_write_text
from resolver.errors import ModelError

MODELS = "models"
CURRENT = "CURRENT"


def publish_model(workdir: Path, staged: Path, version: str, manifest: dict[str, Any]) -> Path:
    """Move a staged model folder to `models/<version>` (its manifest written last), then
    point CURRENT at it: until that last write, the model in force is the previous one."""
    try:
        (staged / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        final = workdir / MODELS / version
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    atomic_write_text(workdir / CURRENT, version + "\n")
    return final


def current_model_dir(workdir: Path) -> Path:
    """The folder of the active model; a readable error when there is none."""
    pointer = workdir / CURRENT
    if not pointer.exists():
        raise ModelError(f"{workdir}: no trained model here; run `canon train` first")
    path = workdir / MODELS / pointer.read_text(encoding="utf-8").strip()
    if not (path / "manifest.json").exists():
        raise ModelError(f"{path}: the active model is incomplete or missing")
    return path
