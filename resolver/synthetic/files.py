"""Writing the tables and truth files, in this process or in a forked one.

Writing a million-supplier sample (≈ 4 million CSV rows) takes about as long as
building the queries; on Linux the two run side by side in two processes. The child
only reads what the parent built and writes files, so the bytes are the same either
way (the tests hold them equal).
"""

from __future__ import annotations

import multiprocessing
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from resolver.synthetic import orders, tables
from resolver.synthetic.csvout import write_csv
from resolver.synthetic.frame import Frame, concat
from resolver.synthetic.geo import Cities
from resolver.synthetic.lookup import CONTACT, CUSTOMER, EMPLOYEE, SUPPLIER
from resolver.synthetic.masters import Defect, Master
from resolver.synthetic.text import ObjArray, as_objects

TABLES = ("SA2010", "SA1010", "SRA010", "SU5010", "SC7010")


@dataclass(frozen=True)
class Built:
    """Everything the files are written from."""

    suppliers: Master
    supplier_ids: ObjArray
    customers: Master
    customer_ids: ObjArray
    employees: Frame
    employee_ids: ObjArray
    contacts: Frame
    contact_ids: ObjArray
    cities: Cities
    order_count: int
    order_rng: np.random.Generator
    column_rng: np.random.Generator


@dataclass(frozen=True)
class Written:
    """Rows per table file, and how many of them are soft-deleted."""

    rows: dict[str, int]
    deleted: dict[str, int]


def output_paths(out_dir: Path) -> dict[str, Path]:
    """Where each file of a sample goes."""
    paths = {table: out_dir / "data" / f"{table}.csv" for table in TABLES}
    paths.update(
        entities=out_dir / "truth" / "entities.csv",
        defects=out_dir / "truth" / "defects.csv",
        queries=out_dir / "queries.jsonl",
        expected=out_dir / "expected.jsonl",
        readme=out_dir / "README.txt",
    )
    return paths


def write_files(built: Built, paths: dict[str, Path]) -> Written:
    """Build the purchase orders, then write the five tables and the truth files."""
    b, rng = built, built.column_rng
    po = orders.build_orders(b.order_rng, b.suppliers, b.order_count)
    po_ids = tables.order_ids(po)
    rows = {
        "SA2010": write_csv(paths["SA2010"], tables.supplier_columns(rng, b.suppliers)),
        "SA1010": write_csv(paths["SA1010"], tables.customer_columns(rng, b.customers)),
        "SRA010": write_csv(paths["SRA010"], tables.employee_columns(b.cities, b.employees)),
        "SU5010": write_csv(paths["SU5010"], tables.contact_columns(rng, b.cities, b.contacts)),
        "SC7010": write_csv(paths["SC7010"], tables.order_columns(po)),
    }
    frames = (b.suppliers.facts, b.customers.facts, b.employees, b.contacts, po)
    deleted = {t: int(f["deleted"].sum()) for t, f in zip(TABLES, frames, strict=True)}
    parts = (
        (SUPPLIER, b.supplier_ids, b.suppliers.facts),
        (CUSTOMER, b.customer_ids, b.customers.facts),
        (EMPLOYEE, b.employee_ids, b.employees),
        (CONTACT, b.contact_ids, b.contacts),
    )
    write_csv(paths["entities"], concat([tables.truth_rows(t, i, f) for t, i, f in parts]))
    defects: list[Defect] = [d for t, i, f in parts for d in tables.defect_rows(t, i, f)]
    defects += tables.order_defects(po, po_ids, b.supplier_ids)
    ordered = sorted(defects)
    columns = {
        name: as_objects([d[i] for d in ordered]) for i, name in enumerate(tables.DEFECTS_HEADER)
    }
    write_csv(paths["defects"], columns)
    return Written(rows, deleted)


def _child(built: Built, paths: dict[str, Path], channel: Connection) -> None:
    try:
        channel.send(("ok", write_files(built, paths)))
    except BaseException:  # noqa: BLE001 - every failure must reach the parent
        channel.send(("error", traceback.format_exc()))
    finally:
        channel.close()


def write_in_background(built: Built, paths: dict[str, Path]) -> Callable[[], Written]:
    """Start writing in a forked process; the returned function waits for it.

    Where fork is unavailable (Windows, macOS' default) the files are written here and
    now, and the function just returns the result.
    """
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        written = write_files(built, paths)
        return lambda: written
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(built, paths, send), name="sample-writer")
    process.start()
    send.close()

    def wait() -> Written:
        try:
            status, payload = receive.recv()
        except EOFError as e:
            process.join()
            raise RuntimeError(f"the sample writer died (exit code {process.exitcode})") from e
        finally:
            receive.close()
        process.join()
        if status != "ok":
            raise RuntimeError(f"writing the sample failed:\n{payload}")
        assert isinstance(payload, Written)
        return payload

    return wait
