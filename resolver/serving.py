"""What a resolver serves from: one model folder's entity types, each with its serving index
and compiled model, loaded together as one immutable snapshot.

A resolve reads the snapshot once and uses nothing else, so replacing it (after `canon
refresh`, or a new `canon train`) is one reference assignment: a resolve running meanwhile
finishes on the old snapshot, the next one starts on the new, and none sees a mix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from resolver.index import ServingIndex
from resolver.profiles import EntityTypeSpec, Profile, load_profile
from resolver.scoring import CompiledModel, TfTables

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServedType:
    """One entity type as served: its profile entry, index and (if probabilistic) model."""

    name: str
    spec: EntityTypeSpec
    index: ServingIndex
    model: CompiledModel | None


@dataclass(frozen=True)
class Snapshot:
    """Everything one resolve needs from a model folder."""

    model_dir: Path
    model_version: str
    index_version: str
    profile: Profile
    entity_types: dict[str, ServedType]


def index_dir(model_dir: Path, entity_type: str) -> Path:
    return model_dir / f"index_{entity_type}"


def index_columns(spec: EntityTypeSpec, compiled: dict[str, object] | None) -> list[str]:
    """The normalised columns an entity type's index keeps: what its model compares, and every
    role (and derived column) queries may block on."""
    model_cols: list[str] = CompiledModel(compiled).columns() if compiled else []
    return list(dict.fromkeys([*model_cols, *sorted(spec.available_columns())]))


def build_index(
    model_dir: Path,
    name: str,
    spec: EntityTypeSpec,
    frame: pd.DataFrame,
    tf: TfTables | None,
) -> ServingIndex:
    """Build an entity type's serving index from its normalised records and save it."""
    compiled = _read_json(model_dir / f"compiled_{name}.json")
    index = ServingIndex.build(frame, index_columns(spec, compiled), tf, spec.blocking_rules)
    index.save(index_dir(model_dir, name))
    return index


def load_snapshot(model_dir: Path, progress: Progress | None = None) -> Snapshot:
    """Load every entity type of a model folder (building indexes the folder lacks)."""
    say = progress or (lambda _msg: None)
    manifest = _read_json(model_dir / "manifest.json") or {}
    profile = load_profile(model_dir / "profile.yaml")
    served: dict[str, ServedType] = {}
    for name, spec in profile.entity_types.items():
        compiled = _read_json(model_dir / f"compiled_{name}.json")
        tf_path = model_dir / f"tf_{name}.json"
        model = None
        if compiled is not None and spec.matching == "probabilistic":
            model = CompiledModel(compiled, _lazy_json(tf_path))
        folder = index_dir(model_dir, name)
        if (folder / "meta.json").exists():
            index = ServingIndex.load(folder)
        else:  # a model folder written before indexes were saved at training time
            say(f"building the {name} index")
            frame = pd.read_parquet(model_dir / f"records_{name}.parquet")
            tf = _read_json(tf_path) if model is not None else None
            index = ServingIndex.build(
                frame,
                index_columns(spec, compiled),
                tf,  # type: ignore[arg-type]
                spec.blocking_rules,
            )
        served[name] = ServedType(name, spec, index, model)
    version = str(manifest.get("model_version", model_dir.name))
    return Snapshot(
        model_dir=model_dir,
        model_version=version,
        index_version=str(manifest.get("index_version", version)),
        profile=profile,
        entity_types=served,
    )


def _read_json(path: Path) -> dict[str, object] | None:
    if not path.exists():
        return None
    value: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return value


def _lazy_json(path: Path) -> Callable[[], TfTables]:
    def load() -> TfTables:
        value: TfTables = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return value

    return load
