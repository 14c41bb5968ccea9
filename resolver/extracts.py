"""Loading ERP extracts (CSV) into normalised frames, one per entity type."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from resolver import normalise_columns as columns
from resolver.errors import ExtractError
from resolver.profiles import EntityTypeSpec

DELETED_FLAG = "D_E_L_E_T_"
RECNO = "R_E_C_N_O_"


def extract_path(data_dir: Path, spec: EntityTypeSpec) -> Path:
    """Where an entity type's extract lives: `<table>.csv` (any case) in the data folder."""
    for candidate in (data_dir / f"{spec.table}.csv", data_dir / f"{spec.table.lower()}.csv"):
        if candidate.exists():
            return candidate
    raise ExtractError(f"{data_dir / (spec.table + '.csv')}: extract not found for {spec.table}")


def header(path: Path) -> list[str]:
    """An extract's column names, as the loader reads them (stripped, upper-case)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            first = next(csv.reader(fh), None)
    except UnicodeDecodeError as e:
        raise ExtractError(f"{path}: not UTF-8 text (byte {e.start}): re-export as UTF-8") from e
    except csv.Error as e:
        raise ExtractError(f"{path}: malformed CSV header: {e}") from e
    return [str(c).strip().upper() for c in first or []]


def read_extract(path: Path, spec: EntityTypeSpec) -> pd.DataFrame:
    """Read a CSV extract as strings, check its columns and drop soft-deleted rows.

    Protheus pads CHAR fields with blanks, so every value is stripped; extra columns and
    any column order are accepted; rows marked `D_E_L_E_T_ = '*'` are ignored; of two live
    rows with one key, the later (higher R_E_C_N_O_) wins.
    """
    frame = read_table(path, spec)
    if DELETED_FLAG in frame.columns:
        frame = frame[frame[DELETED_FLAG] != "*"]
    if RECNO in frame.columns:
        recno = pd.to_numeric(frame[RECNO], errors="coerce")
        frame = (
            frame.assign(_recno=recno).sort_values("_recno", kind="stable").drop(columns="_recno")
        )
    result: pd.DataFrame = frame.reset_index(drop=True)
    return result


def read_table(path: Path, spec: EntityTypeSpec) -> pd.DataFrame:
    """Every row of a CSV extract as stripped strings, deleted ones included, with its header
    checked: upper-case names, no duplicate, the key and every column the profile reads."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), None)
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8", skipinitialspace=False
        )
    except UnicodeDecodeError as e:
        raise ExtractError(f"{path}: not UTF-8 text (byte {e.start}): re-export as UTF-8") from e
    except (pd.errors.ParserError, csv.Error) as e:
        raise ExtractError(f"{path}: malformed CSV: {str(e).strip()}") from e
    except pd.errors.EmptyDataError as e:
        raise ExtractError(f"{path}: empty file, expected a header row") from e
    if not header:
        raise ExtractError(f"{path}: empty file, expected a header row")
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ExtractError(f"{path}: column {dupes[0]} appears twice in the header")
    for key in spec.native_key:
        if key not in frame.columns:
            raise ExtractError(f"{path}: missing key column {key}")
    for col in sorted(spec.columns()):
        if col not in frame.columns:
            raise ExtractError(f"{path}: the profile names column {col}, absent from the file")
    stripped: pd.DataFrame = frame.apply(lambda s: s.str.strip())
    return stripped


def canonical_ids(frame: pd.DataFrame, spec: EntityTypeSpec) -> pd.Series:
    """Vectorised `spec.canonical_id.format(**row)` over a frame."""
    pieces = re.split(r"{([A-Za-z0-9_]+)}", spec.canonical_id)
    out = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    for k, piece in enumerate(pieces):
        # Even pieces are literal text, odd ones the names of key fields.
        out = out + (piece if k % 2 == 0 else frame[piece].astype(object))
    return out


def _joined(raw: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One role source's values: a column, or several columns' non-empty values space-joined."""
    if len(columns) == 1:
        return raw[columns[0]]
    parts = [raw[c].fillna("").astype(str) for c in columns]
    joined = parts[0]
    for part in parts[1:]:
        joined = (joined + " " + part).str.strip()
    return joined


def normalised_frame(raw: pd.DataFrame, spec: EntityTypeSpec) -> pd.DataFrame:
    """One row per canonical id: `unique_id`, the normalised role and derived columns, and
    the raw key and display columns (prefixed `raw_`)."""
    out = pd.DataFrame(index=raw.index)
    out["unique_id"] = canonical_ids(raw, spec)
    for role in spec.roles:
        sources = [_joined(raw, source) for source in spec.sources(role)]
        merged = sources[0]
        for source in sources[1:]:
            merged = merged.where(merged != "", source)
        out[role] = columns.normalise_column(role, merged)
    if "name" in out:
        out["name_sorted"] = columns.derive("name_sorted", out["name"])
    if "tax_id" in out:
        out["tax_root"] = columns.derive("tax_root", out["tax_id"])
    for col in dict.fromkeys([*spec.native_key, *spec.display, spec.blocked_flag or ""]):
        if col:
            out[f"raw_{col}"] = raw[col]
    # Several rows per key (purchase-order items, re-inserted rows): keep the latest row.
    out = out.drop_duplicates("unique_id", keep="last")
    return out.reset_index(drop=True)


def load_entity_type(data_dir: Path, spec: EntityTypeSpec) -> pd.DataFrame:
    """Read and normalise one entity type's extract."""
    path = extract_path(data_dir, spec)
    return normalised_frame(read_extract(path, spec), spec)
