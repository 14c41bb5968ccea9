"""splink's own scores for query/record pairs: the reference the serving path must equal."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pandas as pd
from splink import DuckDBAPI, Linker

from resolver.training import tf_columns, use_term_frequencies


def splink_match_weights(
    model_dir: Path, entity_type: str, queries: pd.DataFrame, master: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Score every query against every master record with splink's `predict_between`, using
    the master's term-frequency tables as trained. Queries need `unique_id` and the model's
    normalised columns; returns query id, record id and match weight per pair."""
    model = json.loads((model_dir / f"splink_{entity_type}.json").read_text(encoding="utf-8"))
    compiled = json.loads((model_dir / f"compiled_{entity_type}.json").read_text("utf-8"))
    tf = json.loads((model_dir / f"tf_{entity_type}.json").read_text(encoding="utf-8"))
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    columns = manifest["model_columns"][entity_type]
    if master is None:
        master = pd.read_parquet(model_dir / f"records_{entity_type}.parquet")
    db_api = DuckDBAPI(connection=duckdb.connect())
    right = db_api.register(master[columns], table_name="master")
    left = db_api.register(queries.reindex(columns=columns).astype(object), table_name="queries")
    linker = Linker(right, model, log_level=logging.ERROR)
    use_term_frequencies(linker, db_api, {col: tf[col] for col in tf_columns(compiled)})
    predictions = linker.inference.predict_between(
        left, right, blocking_rules_to_generate_predictions=["1=1"], warning_mode="never"
    ).as_pandas_dataframe()
    result: pd.DataFrame = predictions[["unique_id_l", "unique_id_r", "match_weight"]]
    return result
