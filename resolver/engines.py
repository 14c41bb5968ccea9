"""Where splink runs: DuckDB in process (the default), or Spark for masters that outgrow one
machine (`--engine spark`, `local[*]` here, `--spark-master spark://host:7077` or `yarn` on a
cluster). The model is the same either way; only the SQL dialect of its levels differs.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
from splink import DuckDBAPI

from resolver.comparisons import DUCKDB, SPARK, Dialect
from resolver.errors import ModelError

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineOptions:
    """Which engine, and for Spark the master URL, extra Spark config and a checkpoint dir."""

    engine: Engine = "duckdb"
    spark_master: str | None = None
    spark_config: dict[str, str] = field(default_factory=dict)
    checkpoint_dir: Path | None = None

    @property
    def dialect(self) -> Dialect:
        return SPARK if self.engine == "spark" else DUCKDB


def check_engine(engine: str) -> Engine:
    """The engine named, or a readable error."""
    if engine not in ENGINES:
        raise ModelError(f"--engine: unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    return "spark" if engine == "spark" else "duckdb"


def database_api(options: EngineOptions) -> Any:
    """A fresh splink database API for the engine."""
    if options.engine == "spark":
        return SparkAPIFactory(options).api()
    return DuckDBAPI(connection=duckdb.connect())


def register(db_api: Any, frame: pd.DataFrame, table_name: str) -> Any:
    """Register a frame of str/None columns as a splink table on the engine."""
    if type(db_api).__name__ == "SparkAPI":
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(str(c), StringType(), True) for c in frame.columns])
        rows = frame.astype(object).where(frame.notna(), None).values.tolist()
        spark_frame = db_api.spark.createDataFrame(rows, schema=schema)
        # Temp views live in the session, which every linker of the process shares.
        return db_api.register(spark_frame, table_name=f"{table_name}_{uuid.uuid4().hex[:12]}")
    return db_api.register(frame, table_name=table_name)


class SparkAPIFactory:
    """One Spark session per process (Spark allows no second), configured for splink: its
    similarity UDF jar, a checkpoint directory, shuffle partitions sized for the machine."""

    _session: Any = None

    def __init__(self, options: EngineOptions):
        self.options = options

    def session(self) -> Any:
        try:
            from pyspark.sql import SparkSession
            from splink.backends.spark import similarity_jar_location
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ModelError(
                "--engine spark needs pyspark (pip install 'pyspark>=3.5') and Java 17"
            ) from e
        if SparkAPIFactory._session is not None:
            return SparkAPIFactory._session
        master = self.options.spark_master or os.environ.get("CANON_SPARK_MASTER", "local[*]")
        builder = (
            SparkSession.builder.master(master)
            .appName("canon")
            .config("spark.jars", similarity_jar_location())
            .config("spark.sql.shuffle.partitions", str(max(4, 2 * (os.cpu_count() or 2))))
            .config("spark.default.parallelism", str(max(4, 2 * (os.cpu_count() or 2))))
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", os.environ.get("CANON_SPARK_DRIVER_MEMORY", "4g"))
            .config("spark.sql.ansi.enabled", "false")
        )
        for key, value in self.options.spark_config.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as e:  # Java missing, bad master URL…
            raise ModelError(f"--engine spark: cannot start Spark at {master}: {e}") from e
        spark.sparkContext.setLogLevel("ERROR")
        checkpoint = self.options.checkpoint_dir or Path(tempfile.mkdtemp(prefix="canon-spark-"))
        checkpoint.mkdir(parents=True, exist_ok=True)
        spark.sparkContext.setCheckpointDir(str(checkpoint))
        SparkAPIFactory._session = spark
        return spark

    def api(self) -> Any:
        from splink.backends import spark as spark_backend

        factory: Any = spark_backend.SparkAPI  # untyped in splink
        return factory(spark_session=self.session(), break_lineage_method="parquet")


def stop_spark() -> None:
    """Stop the process's Spark session, if one was started (the next use starts a new one)."""
    if SparkAPIFactory._session is not None:
        SparkAPIFactory._session.stop()
        SparkAPIFactory._session = None
