"""Batch dedupe of one entity type's master: splink predicts pairs within the master and
clusters them (connected components at a probability threshold); clusters get stable ids
(`resolver.clusters`) and are written, with their pair scores and the fields that differ, as
Parquet and into DuckDB under `<workdir>/dedupe/`.

    <workdir>/dedupe/<entity type>/runs/<run>/{clusters,pairs,events}.parquet, run.json
    <workdir>/dedupe/<entity type>/LATEST           the last complete run
    <workdir>/dedupe/dedupe.duckdb                  <type>_clusters, <type>_pairs (last run),
                                                    <type>_events, runs (every run)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from resolver.atomic import atomic_write_text
from resolver.clusters import assign_stable_ids
from resolver.current import current_model_dir
from resolver.engines import EngineOptions
from resolver.errors import ModelError
from resolver.profiles import load_profile
from resolver.training import model_in_dialect, new_linker, use_term_frequencies

Progress = Callable[[str, int, int], None]
STEPS = ("loading", "predicting", "clustering", "stable ids", "writing")
#: Records of one master linked as one entity from this probability on. The model is fitted to
#: agent queries (resolver.simulate), whose agreement is rarer than two rows of one master
#: share (a look-alike and its original share a phone, a street); 0.99 keeps look-alikes apart.
DEFAULT_THRESHOLD = 0.99
RUN_COLUMNS = ("run", "entity_type", "threshold", "records", "pairs", "clusters", "merges",
               "splits", "retired", "engine", "finished_at")  # fmt: skip


@dataclass(frozen=True)
class DedupeSummary:
    """What a dedupe run found and where it wrote it."""

    entity_type: str
    run: str
    threshold: float
    records: int
    pairs: int
    clusters: int
    multi_record_clusters: int
    records_in_multi: int
    kept_ids: int
    new_ids: int
    merges: int
    splits: int
    retired: int
    seconds: float
    path: str


def dedupe_workdir(
    workdir: Path,
    entity_type: str,
    threshold: float | None = None,
    *,
    engine: EngineOptions | None = None,
    progress: Progress | None = None,
) -> DedupeSummary:
    """Dedupe an entity type of the workdir's active model; ids stay stable across runs."""
    started = time.perf_counter()
    tick = progress or (lambda _step, _done, _total: None)
    engine = engine or EngineOptions()
    p = threshold if threshold is not None else DEFAULT_THRESHOLD
    if not 0.0 < p < 1.0:
        raise ModelError(f"--threshold: {p} is not a probability strictly between 0 and 1")
    model_dir = current_model_dir(workdir)
    profile = load_profile(model_dir / "profile.yaml")
    spec = profile.entity_types.get(entity_type)
    if spec is None:
        known = ", ".join(profile.entity_types)
        raise ModelError(f"--entity-type: unknown {entity_type!r} (known: {known})")
    model_path = model_dir / f"splink_{entity_type}.json"
    if spec.matching != "probabilistic" or not model_path.exists():
        raise ModelError(f"{entity_type}: matched by key, there is no model to dedupe it with")
    tick(STEPS[0], 0, len(STEPS))
    frame = pd.read_parquet(model_dir / f"records_{entity_type}.parquet")
    model = model_in_dialect(
        json.loads(model_path.read_text(encoding="utf-8")), profile, spec, engine.dialect
    )
    linker, db_api = new_linker(profile, spec, frame, model, engine)
    tf_path = model_dir / f"tf_{entity_type}.json"
    if tf_path.exists():  # the served frequencies: the waterfalls and the index agree with it
        use_term_frequencies(linker, db_api, json.loads(tf_path.read_text(encoding="utf-8")))
    tick(STEPS[1], 1, len(STEPS))
    predictions = linker.inference.predict(threshold_match_probability=p)
    pairs = _pairs(_to_pandas(predictions), model)
    tick(STEPS[2], 2, len(STEPS))
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=p
    )
    groups = _to_pandas(clustered)[["unique_id", "cluster_id"]]
    groups = groups.rename(columns={"cluster_id": "group"}).astype({"unique_id": str})
    tick(STEPS[3], 3, len(STEPS))
    home = workdir / "dedupe" / entity_type
    previous, last_run = _latest(home)
    assignment = assign_stable_ids(
        groups,
        previous,
        int(last_run.get("next_number", 1)) if last_run else 1,
        prefix=f"{entity_type}-",
    )
    clusters = assignment.clusters.copy()
    clusters["cluster_size"] = clusters.groupby("cluster_id")["unique_id"].transform("size")
    pairs["cluster_id"] = pairs["unique_id_l"].map(
        dict(zip(clusters["unique_id"], clusters["cluster_id"], strict=True))
    )
    tick(STEPS[4], 4, len(STEPS))
    events = assignment.events
    kinds = events["event"].value_counts()
    run = f"{int(last_run.get('number', 0)) + 1 if last_run else 1:04d}"
    run = f"{run}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    multi = clusters[clusters["cluster_size"] > 1]
    summary = DedupeSummary(
        entity_type=entity_type,
        run=run,
        threshold=p,
        records=len(clusters),
        pairs=len(pairs),
        clusters=int(clusters["cluster_id"].nunique()),
        multi_record_clusters=int(multi["cluster_id"].nunique()),
        records_in_multi=len(multi),
        kept_ids=int(clusters["cluster_id"].isin(set(previous["cluster_id"])).sum())
        if previous is not None
        else 0,
        new_ids=assignment.next_number - (int(last_run.get("next_number", 1)) if last_run else 1),
        merges=int(kinds.get("merged", 0)),
        splits=int(kinds.get("split", 0)),
        retired=int(kinds.get("retired", 0)),
        seconds=0.0,
        path=str(home / "runs" / run),
    )
    record = {
        **asdict(summary),
        "number": int(last_run.get("number", 0)) + 1 if last_run else 1,
        "next_number": assignment.next_number,
        "model_dir": str(model_dir),
        "engine": engine.engine,
        "finished_at": datetime.now(UTC).isoformat(),
    }
    record["seconds"] = time.perf_counter() - started
    _write_run(home, run, clusters, pairs, events, record)
    _write_duckdb(
        workdir / "dedupe" / "dedupe.duckdb", entity_type, clusters, pairs, events, record
    )
    tick("done", len(STEPS), len(STEPS))
    return DedupeSummary(**{**asdict(summary), "seconds": time.perf_counter() - started})


def _to_pandas(frame: Any) -> pd.DataFrame:
    result: pd.DataFrame = frame.as_pandas_dataframe()  # splink's SplinkDataFrame, untyped
    return result


def _pairs(predictions: pd.DataFrame, model: dict[str, Any]) -> pd.DataFrame:
    """Pair scores and, per pair, the comparisons that did not agree at their top level."""
    out = predictions[["unique_id_l", "unique_id_r", "match_weight", "match_probability"]].copy()
    differing = pd.Series([""] * len(out), index=out.index, dtype=object)
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        column = f"gamma_{name}"
        if column not in predictions:
            continue
        top = sum(1 for lv in comparison["comparison_levels"] if not lv.get("is_null_level")) - 1
        gamma = predictions[column]
        differs = (gamma >= 0) & (gamma < top)
        differing = differing.where(~differs, differing + "," + name)
    out["differing_fields"] = differing.str.lstrip(",")
    return out.astype({"unique_id_l": str, "unique_id_r": str})


def _latest(home: Path) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    pointer = home / "LATEST"
    if not pointer.exists():
        return None, None
    run_dir = home / "runs" / pointer.read_text(encoding="utf-8").strip()
    try:
        record: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        clusters = pd.read_parquet(
            run_dir / "clusters.parquet", columns=["unique_id", "cluster_id"]
        )
    except (OSError, ValueError) as e:
        raise ModelError(f"{run_dir}: the last dedupe run is unreadable: {e}") from e
    return clusters, record


def _write_run(
    home: Path,
    run: str,
    clusters: pd.DataFrame,
    pairs: pd.DataFrame,
    events: pd.DataFrame,
    record: dict[str, Any],
) -> None:
    """Write the run into a hidden folder, rename it into place, then move LATEST to it."""
    (home / "runs").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=home / "runs", prefix=".tmp-"))
    try:
        clusters.to_parquet(tmp / "clusters.parquet", index=False)
        pairs.to_parquet(tmp / "pairs.parquet", index=False)
        events.to_parquet(tmp / "events.parquet", index=False)
        (tmp / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.replace(tmp, home / "runs" / run)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(home / "LATEST", run + "\n")


def _write_duckdb(
    path: Path,
    entity_type: str,
    clusters: pd.DataFrame,
    pairs: pd.DataFrame,
    events: pd.DataFrame,
    record: dict[str, Any],
) -> None:
    """The last run's clusters and pairs, and every run's events, in one transaction."""
    runs = pd.DataFrame([{k: record[k] for k in RUN_COLUMNS}])
    # Typed text: a run whose events all lack a related id would otherwise give DuckDB a
    # column of type NULL, which it cannot insert into the table earlier runs created.
    run_events = events.assign(run=record["run"]).astype(
        {"event": "string", "cluster_id": "string", "related_id": "string"}
    )
    with duckdb.connect(str(path)) as con:
        con.execute("BEGIN TRANSACTION")
        for name, frame in (("clusters", clusters), ("pairs", pairs)):
            con.register("frame_view", frame)
            con.execute(
                f'CREATE OR REPLACE TABLE "{entity_type}_{name}" AS SELECT * FROM frame_view'
            )
            con.unregister("frame_view")
        for name, frame in ((f"{entity_type}_events", run_events), ("runs", runs)):
            con.register("frame_view", frame)
            con.execute(f'CREATE TABLE IF NOT EXISTS "{name}" AS SELECT * FROM frame_view LIMIT 0')
            con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM frame_view')
            con.unregister("frame_view")
        con.execute("COMMIT")
