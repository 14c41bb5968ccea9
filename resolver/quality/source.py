"""What the metrics read: the active model's master as the ERP wrote it, in one in-memory
DuckDB connection.

    raw_<type>   the extract's live rows (soft-deleted ones dropped, the latest row per key),
                 every column as written plus `canonical_id`; purchase orders keep every item
    rec_<type>   the model's normalised records (`unique_id`, one column per role)

Quality is about what clerks typed, so validity and completeness read the raw columns; the
comparisons between records (shared tax ids, names, e-mails) read the normalised ones, as the
resolver would. The raw rows come from the folder the model was trained on: after `canon
refresh` that folder lacks the deltas, so point `data_dir` at current full extracts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from resolver.current import current_model_dir
from resolver.errors import ExtractError, QualityError
from resolver.extracts import canonical_ids, extract_path, read_extract
from resolver.profiles import EntityTypeSpec, Profile, load_profile


@dataclass(frozen=True)
class Master:
    """A workdir's active model, its profile and its tables in DuckDB."""

    workdir: Path
    model_dir: Path
    model_version: str
    profile: Profile
    con: duckdb.DuckDBPyConnection

    @property
    def types(self) -> dict[str, EntityTypeSpec]:
        return self.profile.entity_types

    def parties(self) -> list[str]:
        """Entity types with a probabilistic model: the ones that have names, tax ids…"""
        return [n for n, s in self.types.items() if s.matching == "probabilistic"]

    def records(self, entity_type: str) -> int:
        """Live records of an entity type (one per canonical id)."""
        rows = self.con.execute(
            f'SELECT count(DISTINCT canonical_id) FROM "raw_{entity_type}"'
        ).fetchall()
        return int(rows[0][0]) if rows else 0


def open_master(workdir: Path, data_dir: Path | None = None) -> Master:
    """Load the extracts the active model was trained on (or `data_dir`'s) into DuckDB."""
    model_dir = current_model_dir(workdir)
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    profile = load_profile(model_dir / "profile.yaml")
    data = data_dir or Path(manifest["data_dir"])
    if not data.is_dir():
        raise QualityError(
            f"{data}: the extracts of model {manifest['model_version']} are not there; "
            "give the folder that holds them (--data)"
        )
    con = duckdb.connect()
    for name, spec in profile.entity_types.items():
        try:
            raw = read_extract(extract_path(data, spec), spec)
        except ExtractError as e:
            raise QualityError(str(e)) from e
        raw.insert(0, "canonical_id", canonical_ids(raw, spec))
        if spec.matching == "probabilistic":
            # The latest row of a key, as training kept it.
            raw = raw.drop_duplicates("canonical_id", keep="last")
        _table(con, f"raw_{name}", raw.reset_index(drop=True))
        records = model_dir / f"records_{name}.parquet"
        con.execute(
            f"CREATE TABLE \"rec_{name}\" AS SELECT * FROM read_parquet('{_quoted(records)}')"
        )
    version = manifest.get("index_version") or manifest["model_version"]  # refreshed: r<n>
    return Master(workdir, model_dir, str(version), profile, con)


def _table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    con.register("frame_view", frame)
    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame_view')
    con.unregister("frame_view")


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def label_sql(spec: EntityTypeSpec, alias: str = "r") -> str:
    """SQL giving a record's display name: its first name column, else its canonical id."""
    names = spec.roles.get("name") or []
    if not names:
        return f"{alias}.canonical_id"
    parts = ", ".join(f"nullif({alias}.\"{c}\", '')" for c in names)
    return f"coalesce({parts}, {alias}.canonical_id)"


def role_sql(spec: EntityTypeSpec, role: str, alias: str = "r") -> str:
    """SQL giving a role's raw value: its first non-empty column, as the loader merges them."""
    return columns_sql(spec.roles[role], alias)


def role_column_sql(spec: EntityTypeSpec, role: str, alias: str = "r") -> str:
    """SQL naming which column filled a role (for offender details)."""
    return which_column_sql(spec.roles[role], alias)


def columns_sql(cols: list[str], alias: str = "r") -> str:
    """SQL giving the first non-empty of some raw columns."""
    if len(cols) == 1:
        return f'{alias}."{cols[0]}"'
    return "coalesce(" + ", ".join(f"nullif({alias}.\"{c}\", '')" for c in cols) + ", '')"


def which_column_sql(cols: list[str], alias: str = "r") -> str:
    """SQL naming the first non-empty of some raw columns."""
    if len(cols) == 1:
        return f"'{cols[0]}'"
    whens = " ".join(f"WHEN {alias}.\"{c}\" <> '' THEN '{c}'" for c in cols)
    return f"CASE {whens} ELSE '{cols[0]}' END"


def raw_columns(master: Master, entity_type: str) -> list[str]:
    """Every column of an entity type's extract, as loaded."""
    rows = master.con.execute(f'DESCRIBE "raw_{entity_type}"').fetchall()
    return [str(r[0]) for r in rows]
