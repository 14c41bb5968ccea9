"""The trained model on disk: `<workdir>/models/<version>/`, switched atomically via `CURRENT`.

A training run writes into a hidden temporary folder and renames it into place only when
every entity type is trained, so a failure leaves the workdir as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from resolver.comparisons import DUCKDB
from resolver.current import CURRENT as CURRENT
from resolver.current import MODELS as MODELS
from resolver.current import current_model_dir as current_model_dir
from resolver.current import publish_model
from resolver.engines import EngineOptions
from resolver.errors import ExtractError, ModelError
from resolver.extracts import extract_path, header, normalised_frame, read_extract
from resolver.profiles import Profile, load_profile
from resolver.serving import build_index
from resolver.training import (
    TrainingReport,
    compile_model,
    model_columns,
    model_in_dialect,
    term_frequencies,
    tf_columns,
    train_linker,
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingSummary:
    """A finished training run: its model version, where it lives, and one report per type."""

    model_version: str
    path: Path
    reports: list[TrainingReport]
    seconds: float
    #: Seconds of the run's own stages (loading and normalising the extracts).
    stages: dict[str, float] = field(default_factory=dict)
    #: Entity types of the profile not trained, and why (no extract, not selected).
    skipped: dict[str, str] = field(default_factory=dict)


def select_entity_types(
    profile: Profile, data_dir: Path, wanted: list[str] | None = None
) -> tuple[Profile, dict[str, str]]:
    """The profile restricted to the entity types to train: those selected (all by default)
    whose extract is in the data folder; and the others with the reason they are left out."""
    if not data_dir.is_dir():
        raise ModelError(f"{data_dir}: data folder not found")
    known = list(profile.entity_types)
    for name in wanted or []:
        if name not in profile.entity_types:
            raise ModelError(
                f"--entity-types: unknown entity type {name!r} (known: {', '.join(known)})"
            )
    skipped: dict[str, str] = {}
    kept = {}
    for name, spec in profile.entity_types.items():
        if wanted and name not in wanted:
            skipped[name] = "not selected"
            continue
        try:
            extract_path(data_dir, spec)
        except ExtractError:
            skipped[name] = f"no extract {spec.table}.csv in {data_dir}"
            continue
        kept[name] = spec
    if not kept:
        tables = ", ".join(
            f"{s.table}.csv" for n, s in profile.entity_types.items() if not wanted or n in wanted
        )
        raise ModelError(f"{data_dir}: no extract to train on (expected one of: {tables})")
    return profile.narrowed(kept), skipped


def load_frames(data_dir: Path, profile: Profile) -> dict[str, pd.DataFrame]:
    """Read and normalise every entity type's extract; an error stops before any write."""
    if not data_dir.is_dir():
        raise ModelError(f"{data_dir}: data folder not found")
    frames = {}
    for name, spec in profile.entity_types.items():
        frames[name] = normalised_frame(read_extract(extract_path(data_dir, spec), spec), spec)
    return frames


def train_workdir(
    data_dir: Path,
    workdir: Path,
    profile_path: Path | None = None,
    *,
    seed: int = 42,
    progress: Progress | None = None,
    engine: EngineOptions | None = None,
    entity_types: list[str] | None = None,
    count_pairs: bool = False,
) -> TrainingSummary:
    """Train every entity type of a profile on a folder of extracts and activate the model
    (`count_pairs`: also count each type's candidate pairs, exactly: `TrainingReport`).

    The splink model of each entity type is saved in DuckDB's dialect (what serving, parity
    and the default dedupe read) whatever engine trained it; a Spark-trained one also keeps
    its Spark form.
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    profile = load_profile(profile_path)
    profile_text = (profile_path or _default_profile_path()).read_text(encoding="utf-8")
    profile, skipped = select_entity_types(profile, data_dir, entity_types)
    if skipped:  # the model folder's profile names what it serves, and nothing else
        profile_text = yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False)
    say("loading extracts")
    t0 = time.perf_counter()
    frames = load_frames(data_dir, profile)
    stages = {"load": time.perf_counter() - t0}
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MODELS).mkdir(exist_ok=True)
    # The extracts' bytes name the data: at 1 M suppliers hashing every extract takes 1 s, where
    # hashing the normalised frames took 5 s for the suppliers alone.
    digest = hashlib.sha256(profile_text.encode())
    for name in sorted(frames):
        with extract_path(data_dir, profile.entity_types[name]).open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    version = f"{profile.erp}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{digest.hexdigest()[:8]}"
    tmp = Path(tempfile.mkdtemp(dir=workdir / MODELS, prefix=".tmp-"))
    reports: list[TrainingReport] = []
    try:
        (tmp / "profile.yaml").write_text(profile_text, encoding="utf-8")
        with duckdb.connect(str(tmp / "master.duckdb")) as con:
            for name, frame in frames.items():
                con.register("frame_view", frame)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame_view')
                con.unregister("frame_view")
        for name, spec in profile.entity_types.items():
            frame = frames[name]
            frame.to_parquet(tmp / f"records_{name}.parquet", index=False)
            if spec.matching != "probabilistic":
                t0 = time.perf_counter()
                build_index(tmp, name, spec, frame, None)
                seconds = time.perf_counter() - t0
                reports.append(
                    TrainingReport(name, len(frame), None, 0.0, stages={"index": seconds})
                )
                continue
            if len(frame) < 2:
                raise ModelError(f"{name}: {len(frame)} live record(s); training needs at least 2")
            say(f"training {name} ({len(frame):,} records)")
            linker, report = train_linker(
                name, profile, spec, frame, seed=seed, engine=engine, count_pairs=count_pairs
            )
            t0 = time.perf_counter()
            compiled = compile_model(linker, profile, spec)
            tf = term_frequencies(frame, tf_columns(compiled))
            (tmp / f"compiled_{name}.json").write_text(json.dumps(compiled), encoding="utf-8")
            (tmp / f"tf_{name}.json").write_text(json.dumps(tf), encoding="utf-8")
            trained = linker.misc.save_model_to_json()
            if engine is not None and engine.engine != "duckdb":
                (tmp / f"splink_{name}.{engine.engine}.json").write_text(
                    json.dumps(trained), encoding="utf-8"
                )
                trained = model_in_dialect(trained, profile, spec, DUCKDB)
            (tmp / f"splink_{name}.json").write_text(json.dumps(trained), encoding="utf-8")
            t1 = time.perf_counter()
            say(f"indexing {name}")
            build_index(tmp, name, spec, frame, tf)
            report.stages.update({"tf": t1 - t0, "index": time.perf_counter() - t1})
            reports.append(report)
        manifest: dict[str, Any] = {
            "model_version": version,
            "erp": profile.erp,
            "trained_at": datetime.now(UTC).isoformat(),
            "data_dir": str(data_dir),
            "entity_types": list(profile.entity_types),
            "skipped_entity_types": skipped,
            "engine": engine.engine if engine is not None else "duckdb",
            # What a refresh delta may carry: the columns each extract had at training.
            "extract_columns": {
                n: header(extract_path(data_dir, s)) for n, s in profile.entity_types.items()
            },
            "model_columns": {
                n: model_columns(profile, s)
                for n, s in profile.entity_types.items()
                if s.matching == "probabilistic"
            },
        }
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = publish_model(workdir, tmp, version, manifest)
    return TrainingSummary(version, final, reports, time.perf_counter() - started, stages, skipped)


def _default_profile_path() -> Path:
    from resolver.profiles import DEFAULT_PROFILE

    return DEFAULT_PROFILE
