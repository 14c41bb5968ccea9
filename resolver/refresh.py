"""`canon refresh`: apply a delta of ERP rows (new, changed, soft-deleted) to the serving
index and term-frequency tables without retraining.

A delta folder holds extracts named like the full ones (`SA2010.csv`…, any subset of tables)
with the same columns. A live row adds or replaces the record of its key; a row with
`D_E_L_E_T_ = '*'` removes it. The whole delta is checked before anything is written: a column
the extract never had, an empty or malformed key, or one key twice rejects it entirely, with
every problem named. The refreshed model folder is written beside the active one (unchanged
files hard-linked) and activated by switching `CURRENT`: a watching resolver
(`load_resolver(watch=True)`, as the API uses) swaps to it in one assignment.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from resolver.current import MODELS, current_model_dir, publish_model
from resolver.errors import ExtractError
from resolver.extracts import (
    DELETED_FLAG,
    RECNO,
    canonical_ids,
    extract_path,
    header,
    normalised_frame,
    read_table,
)
from resolver.profiles import EntityTypeSpec, Profile, load_profile
from resolver.serving import build_index, index_dir
from resolver.training import term_frequencies, tf_columns

Progress = Callable[[str], None]
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class TypeDelta:
    """What a delta does to one entity type."""

    entity_type: str
    added: int
    changed: int
    deleted: int
    absent_deletes: int  # deletions of keys the master did not hold
    records: int  # after the refresh


@dataclass(frozen=True)
class RefreshSummary:
    index_version: str
    model_version: str
    path: Path
    deltas: list[TypeDelta] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Parsed:
    name: str
    spec: EntityTypeSpec
    live: pd.DataFrame  # normalised rows to add or replace
    deleted: set[str]  # canonical ids to remove


def refresh_workdir(
    workdir: Path,
    delta_dir: Path,
    progress: Progress | None = None,
    watermarks: dict[str, str] | None = None,
) -> RefreshSummary:
    """Apply a delta folder to the workdir's active model and activate the result.

    `watermarks` (entity type -> how far the ERP's changes are read) are written in the same
    manifest, so they become the model in force together with the rows they cover.
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    with _refresh_lock(workdir):
        model_dir = current_model_dir(workdir)
        manifest: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text("utf-8"))
        profile = load_profile(model_dir / "profile.yaml")
        say("checking the delta")
        shapes = {
            name: key_shapes(
                pd.read_parquet(
                    model_dir / f"records_{name}.parquet",
                    columns=[f"raw_{k}" for k in spec.native_key],
                ),
                spec,
            )
            for name, spec in profile.entity_types.items()
        }
        parsed = parse_delta(delta_dir, profile, _extract_columns(manifest, profile), shapes)
        base = str(manifest.get("model_version", model_dir.name))
        number = int(manifest.get("refresh", 0)) + 1
        version = f"{base}.r{number}"
        tmp = Path(tempfile.mkdtemp(dir=workdir / MODELS, prefix=".tmp-refresh-"))
        try:
            deltas = _apply(model_dir, tmp, profile, parsed, say)
            applied = sum(d.added + d.changed + d.deleted for d in deltas)
            manifest.update(
                {
                    "index_version": version,
                    "refresh": number,
                    "refreshed_from": model_dir.name,
                    "refreshed_at": datetime.now(UTC).isoformat(),
                    "delta_dir": str(delta_dir),
                    # rows added, changed or deleted since training
                    "rows_applied": int(manifest.get("rows_applied", 0)) + applied,
                    "watermarks": {**manifest.get("watermarks", {}), **(watermarks or {})},
                }
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final = publish_model(workdir, tmp, version, manifest)
    return RefreshSummary(version, base, final, deltas, time.perf_counter() - started)


def refresh_rows(
    workdir: Path,
    entity_type: str,
    rows: list[dict[str, str]],
    progress: Progress | None = None,
    watermark: str | None = None,
) -> RefreshSummary | None:
    """Apply rows read from the ERP (as its extract gives them: new, changed, or deleted with
    `D_E_L_E_T_ = '*'`) to one entity type of the active model, through the same checks and
    atomic switch as a delta folder. None when the active model does not serve that type.

    Columns the model's extract never had are left out: the model cannot use them, and an ERP
    adds fields to a table over time. Of two rows with one key, the later one is applied.
    `watermark` is recorded as how far the entity type's changes are read, with the rows.
    """
    model_dir = current_model_dir(workdir)
    manifest: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text("utf-8"))
    profile = load_profile(model_dir / "profile.yaml")
    spec = profile.entity_types.get(entity_type)
    if spec is None or not rows:
        return None
    known = set(_extract_columns(manifest, profile).get(entity_type, []))
    known |= spec.columns() | {DELETED_FLAG, RECNO}
    upper = {c.upper(): c for c in known}
    columns: dict[str, None] = {}
    kept: dict[tuple[str, ...], dict[str, str]] = {}
    for row in rows:
        out = {upper[k.upper()]: v for k, v in row.items() if k.upper() in upper}
        columns.update(dict.fromkeys(out))
        key = tuple(str(out.get(k, "")).strip() for k in spec.native_key)
        kept.pop(key, None)  # the later row wins, in the order rows came
        kept[key] = out
    marks = {entity_type: watermark} if watermark is not None else None
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".rows-") as folder:
        path = Path(folder) / f"{spec.table}.csv"
        frame = pd.DataFrame(list(kept.values()), columns=list(columns)).fillna("")
        frame.to_csv(path, index=False)
        return refresh_workdir(workdir, Path(folder), progress, marks)


def _extract_columns(manifest: dict[str, Any], profile: Profile) -> dict[str, list[str]]:
    """The columns each extract had at training (older models: read from their data folder)."""
    recorded: dict[str, list[str]] = manifest.get("extract_columns") or {}
    data_dir = Path(str(manifest.get("data_dir", "")))
    for name, spec in profile.entity_types.items():
        if name not in recorded and data_dir.is_dir():
            try:
                recorded[name] = header(extract_path(data_dir, spec))
            except ExtractError:
                continue
    return recorded


@contextmanager
def _refresh_lock(workdir: Path) -> Iterator[None]:
    """One refresh at a time per workdir (a second waits)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / ".refresh.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def parse_delta(
    delta_dir: Path,
    profile: Profile,
    extract_columns: dict[str, list[str]],
    shapes: dict[str, dict[str, KeyShape]],
) -> list[_Parsed]:
    """Read and check every extract of a delta folder; all problems are reported at once."""
    if not delta_dir.is_dir():
        raise ExtractError(f"{delta_dir}: delta folder not found")
    problems: list[str] = []
    parsed: list[_Parsed] = []
    for name, spec in profile.entity_types.items():
        path = next(
            (p for p in (delta_dir / f"{spec.table}.csv", delta_dir / f"{spec.table.lower()}.csv")
             if p.exists()),
            None,
        )  # fmt: skip
        if path is None:
            continue
        known = set(extract_columns.get(name, [])) | spec.columns() | {DELETED_FLAG, RECNO}
        try:
            unknown = [c for c in header(path) if c not in known]
        except ExtractError as e:
            problems.append(str(e))
            continue
        if unknown:
            problems.append(
                f"{path}: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
                f" (the {spec.table} extract the model was trained on has no such column)"
            )
            continue
        try:
            table = read_table(path, spec)
        except ExtractError as e:
            problems.append(str(e))
            continue
        bad = _key_problems(path, table, spec, shapes.get(name, {}))
        if bad:
            problems.extend(bad)
            continue
        deleted_mask = table[DELETED_FLAG] == "*" if DELETED_FLAG in table else None
        ids = canonical_ids(table, spec)
        deleted = set(ids[deleted_mask]) if deleted_mask is not None else set()
        live = table[~deleted_mask] if deleted_mask is not None else table
        parsed.append(
            _Parsed(name, spec, normalised_frame(live.reset_index(drop=True), spec), deleted)
        )
    if problems:
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise ExtractError(
            "delta rejected, nothing applied: " + "; ".join(problems[:MAX_PROBLEMS]) + more
        )
    if not parsed:
        tables = ", ".join(s.table for s in profile.entity_types.values())
        raise ExtractError(f"{delta_dir}: no extract of a known table ({tables}) in the delta")
    return parsed


@dataclass(frozen=True)
class KeyShape:
    """What the master's values of one key field look like."""

    may_be_empty: bool  # Protheus leaves the branch (FILIAL) blank in shared tables
    width: int | None  # the one length every value has (CHAR fields), if there is one


def key_shapes(records: pd.DataFrame, spec: EntityTypeSpec) -> dict[str, KeyShape]:
    """The shape of each key field in the trained master (its raw_ columns)."""
    shapes = {}
    for key in spec.native_key:
        values = records.get(f"raw_{key}")
        if values is None or values.empty:
            shapes[key] = KeyShape(True, None)
            continue
        values = values.fillna("").astype(str)
        filled = values[values != ""]
        widths = filled.str.len().unique()
        shapes[key] = KeyShape(
            bool((values == "").any()), int(widths[0]) if len(widths) == 1 else None
        )
    return shapes


def _key_problems(
    path: Path, table: pd.DataFrame, spec: EntityTypeSpec, shapes: dict[str, KeyShape]
) -> list[str]:
    """Key fields empty or of another width than the master's, keys holding the canonical id's
    separator, and keys given twice."""
    out: list[str] = []
    for key in spec.native_key:
        values = table[key]
        shape = shapes.get(key, KeyShape(True, None))
        empty = (values == "").to_numpy()
        if not shape.may_be_empty:
            for row in np.flatnonzero(empty)[:5].tolist():
                out.append(f"{path}: row {row + 2}: key field {key} is empty")
        if shape.width is not None:
            wrong = ~empty & (values.str.len() != shape.width).to_numpy()
            for row in np.flatnonzero(wrong)[:5].tolist():
                out.append(
                    f"{path}: row {row + 2}: key field {key} is {values.iloc[row]!r};"
                    f" the master's are {shape.width} characters wide"
                )
        for row in np.flatnonzero(values.str.contains(":", regex=False).to_numpy())[:5].tolist():
            out.append(f"{path}: row {row + 2}: key field {key} holds ':' ({values.iloc[row]!r})")
    if out:
        return out
    ids = canonical_ids(table, spec)
    repeated = ids[ids.duplicated(keep=False)]
    for uid, rows in list(repeated.groupby(repeated).groups.items())[:5]:
        lines = ", ".join(str(int(r) + 2) for r in rows)
        out.append(f"{path}: rows {lines} all carry key {uid}: give each key once per delta")
    return out


def _apply(
    model_dir: Path, tmp: Path, profile: Profile, parsed: list[_Parsed], say: Progress
) -> list[TypeDelta]:
    """Write the refreshed model folder into tmp: changed types rebuilt, the rest linked."""
    touched = {p.name: p for p in parsed}
    for path in model_dir.iterdir():
        if path.name in ("manifest.json", "master.duckdb") or path.name.startswith("."):
            continue
        if any(_belongs(path.name, name) for name in touched):
            continue
        link_tree(path, tmp / path.name)
    deltas = []
    frames: dict[str, pd.DataFrame] = {}
    for name, delta in touched.items():
        say(f"refreshing {name}")
        records = pd.read_parquet(model_dir / f"records_{name}.parquet")
        known = set(records["unique_id"])
        incoming = set(delta.live["unique_id"])
        keep = ~records["unique_id"].isin(incoming | delta.deleted)
        merged = pd.concat([records[keep], delta.live[records.columns]], ignore_index=True)
        merged.to_parquet(tmp / f"records_{name}.parquet", index=False)
        frames[name] = merged
        compiled_path = model_dir / f"compiled_{name}.json"
        tf = None
        if compiled_path.exists():
            compiled = json.loads(compiled_path.read_text(encoding="utf-8"))
            tf = term_frequencies(merged, tf_columns(compiled))
            (tmp / f"tf_{name}.json").write_text(json.dumps(tf), encoding="utf-8")
        say(f"indexing {name}")
        build_index(tmp, name, delta.spec, merged, tf)
        deltas.append(
            TypeDelta(
                entity_type=name,
                added=len(incoming - known),
                changed=len(incoming & known),
                deleted=len(delta.deleted & known - incoming),
                absent_deletes=len(delta.deleted - known - incoming),
                records=len(merged),
            )
        )
    _refresh_master(model_dir / "master.duckdb", tmp / "master.duckdb", frames)
    return deltas


def _belongs(filename: str, entity_type: str) -> bool:
    return filename in (
        f"records_{entity_type}.parquet",
        f"tf_{entity_type}.json",
        index_dir(Path(), entity_type).name,
    )


def link_tree(source: Path, target: Path) -> None:
    """Hard-link a file or folder's files (model folders are never modified in place)."""
    if source.is_dir():
        target.mkdir()
        for child in source.iterdir():
            link_tree(child, target / child.name)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _refresh_master(source: Path, target: Path, frames: dict[str, pd.DataFrame]) -> None:
    """The DuckDB copy of the normalised master, with the refreshed types' tables replaced."""
    if not source.exists():
        return
    shutil.copy2(source, target)
    with duckdb.connect(str(target)) as con:
        for name, frame in frames.items():
            con.register("frame_view", frame)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM frame_view')
            con.unregister("frame_view")
