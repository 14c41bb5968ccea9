"""The master data of an ERP, read through its connector into extract CSVs, for training.

`fetch_extracts` pages through `ErpConnector.extract` for each entity type of a profile, from
where the profile says the ERP keeps it (its `source`), and writes what it read as
`<table>.csv` (the file name the profile gives the entity type), beside the profile narrowed to
the entity types it could read (`profile.yaml`): a folder the resolver trains on as it does on
exported extracts. Entity types the connector cannot read (or whose entry names no source) are
skipped and named; any other failure stops the fetch with the ERP's error, before anything is
trained. Each file appears whole or not at all (written aside, then renamed).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from gateway.erp.base import ErpConnector
from gateway.erp.sources import Source
from gateway.errors import ErpUnavailable, ErpUnsupported
from resolver.atomic import atomic_write, atomic_write_text
from resolver.profiles import load_profile

#: Progress messages: ("supplier", rows read so far, pages read so far).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FetchedExtracts:
    """What a fetch wrote: rows per entity type, and the entity types it had to skip (why)."""

    folder: Path
    profile: Path
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def fetch_extracts(
    connector: ErpConnector,
    profile: Path,
    folder: Path,
    *,
    page_size: int = 500,
    progress: Progress | None = None,
) -> FetchedExtracts:
    """Read each entity type of the profile into `folder/<table>.csv`, and the profile of what
    was read into `folder/profile.yaml`.

    Raises ErpError when the ERP cannot be read (unreachable, refused credentials, a bad URL)
    or when it can read none of the profile's entity types.
    """
    declared = load_profile(profile)
    document = yaml.safe_load(profile.read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for entity_type, spec in declared.entity_types.items():
        path = folder / f"{spec.table}.csv"
        try:
            rows[entity_type] = _fetch_one(
                connector, entity_type, spec.source, path, page_size, progress
            )
        except ErpUnsupported as e:
            skipped[entity_type] = e.message
        except httpx.InvalidURL as e:  # not a TransportError: the connector lets it through
            raise ErpUnavailable(f"the ERP's URL is not usable: {e}") from e
    if not rows:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise ErpUnsupported(f"the ERP connector can read none of the profile's types ({reasons})")
    # Only the entity types read, and the quality metrics between them (`Profile.narrowed`);
    # the rest as the file has it.
    document["entity_types"] = {k: v for k, v in document["entity_types"].items() if k in rows}
    if "quality" in document:
        document["quality"] = declared.narrowed(rows).quality.model_dump(mode="json")
    narrowed = folder / "profile.yaml"
    atomic_write_text(narrowed, yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return FetchedExtracts(folder, narrowed, rows, skipped)


def _fetch_one(
    connector: ErpConnector,
    entity_type: str,
    source: Source | None,
    path: Path,
    page_size: int,
    progress: Progress | None,
) -> int:
    """Pages go to a JSON-lines file first (a later page may bring new columns), then to CSV."""
    columns: dict[str, None] = {}
    count = pages = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for page in connector.extract(entity_type, source, page_size=page_size):
            for row in page:
                columns.update(dict.fromkeys(row))
                spool.write(json.dumps(row, ensure_ascii=False) + "\n")
            count, pages = count + len(page), pages + 1
            if progress is not None:
                progress(entity_type, count, pages)
        spool.seek(0)
        _write_csv(path, list(columns), (json.loads(line) for line in spool))
    return count


def _write_csv(path: Path, columns: list[str], rows: Iterable[dict[str, str]]) -> None:
    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
