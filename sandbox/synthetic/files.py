"""Writing the tables and truth files, in this process or in forked ones.

Writing a million-supplier sample (≈ 4 million CSV rows, plus the addresses and phones
that only the files carry) costs about as much as everything else; on Linux it runs in
forked processes while this one goes on building. A child only reads what the parent
built before the fork, so the bytes are the same either way (the tests hold them equal).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar

import numpy as np

from sandbox.synthetic import companies, orders, people, tables
from sandbox.synthetic.csvout import write_csv
from sandbox.synthetic.frame import Frame, concat
from sandbox.synthetic.geo import Cities
from sandbox.synthetic.lookup import CONTACT, CUSTOMER, EMPLOYEE, SUPPLIER
from sandbox.synthetic.masters import Defect, Master
from sandbox.synthetic.names import NamePools
from sandbox.synthetic.text import ObjArray, as_objects

TABLES = ("SA2010", "SA1010", "SRA010", "SU5010", "SC7010")
T = TypeVar("T")


@dataclass(frozen=True)
class Written:
    """Rows per table file, how many are soft-deleted, and the purchase-order defects."""

    rows: dict[str, int]
    deleted: dict[str, int]
    defects: list[Defect]


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


def write_suppliers(
    rng: np.random.Generator,
    pools: NamePools,
    cities: Cities,
    suppliers: Master,
    supplier_ids: ObjArray,
    order_count: int,
    paths: dict[str, Path],
) -> Written:
    """SA2010, then the purchase orders (SC7010) that point at its suppliers."""
    companies.company_reach(rng, pools, cities, suppliers.facts, suppliers.written, _BLANKS)
    sa2 = write_csv(paths["SA2010"], tables.supplier_columns(rng, suppliers))
    po = orders.build_orders(rng, suppliers, order_count)
    sc7 = write_csv(paths["SC7010"], tables.order_columns(po))
    defects = tables.order_defects(po, tables.order_ids(po), supplier_ids)
    deleted = {"SA2010": int(suppliers.facts["deleted"].sum()), "SC7010": int(po["deleted"].sum())}
    return Written({"SA2010": sa2, "SC7010": sc7}, deleted, defects)


@dataclass(frozen=True)
class Others:
    """What the customer, employee and contact files and the truth are written from."""

    suppliers: Master
    supplier_ids: ObjArray
    customers: Master
    customer_ids: ObjArray
    employees: Frame
    employee_ids: ObjArray
    contacts: Frame
    contact_ids: ObjArray


def write_others(
    rng: np.random.Generator, pools: NamePools, cities: Cities, o: Others, paths: dict[str, Path]
) -> Written:
    """SA1010, SRA010, SU5010 and truth/entities.csv."""
    companies.company_reach(rng, pools, cities, o.customers.facts, o.customers.written, _BLANKS)
    people.contact_reach(rng, pools, cities, o.contacts)
    rows = {
        "SA1010": write_csv(paths["SA1010"], tables.customer_columns(rng, o.customers)),
        "SRA010": write_csv(paths["SRA010"], tables.employee_columns(cities, o.employees)),
        "SU5010": write_csv(paths["SU5010"], tables.contact_columns(rng, cities, o.contacts)),
    }
    frames = (o.customers.facts, o.employees, o.contacts)
    deleted = {t: int(f["deleted"].sum()) for t, f in zip(TABLES[1:4], frames, strict=True)}
    write_csv(paths["entities"], concat([tables.truth_rows(*p) for p in truth_parts(o)]))
    return Written(rows, deleted, [])


def truth_parts(o: Others) -> list[tuple[str, ObjArray, Frame]]:
    """(entity type, canonical ids, frame) of the four party tables."""
    return [
        (SUPPLIER, o.supplier_ids, o.suppliers.facts),
        (CUSTOMER, o.customer_ids, o.customers.facts),
        (EMPLOYEE, o.employee_ids, o.employees),
        (CONTACT, o.contact_ids, o.contacts),
    ]


def write_defects(path: Path, defects: list[Defect]) -> None:
    """truth/defects.csv, sorted."""
    ordered = sorted(defects)
    columns = {
        name: as_objects([d[i] for d in ordered]) for i, name in enumerate(tables.DEFECTS_HEADER)
    }
    write_csv(path, columns)


_BLANKS = companies.Blanks()


def _child(task: Callable[[], object], channel: Connection) -> None:
    status = 0
    try:
        channel.send(("ok", task()))
    except BaseException:  # noqa: BLE001 - every failure must reach the parent
        channel.send(("error", traceback.format_exc()))
        status = 1
    finally:
        channel.close()
    # Leave at once: the usual exit flushes stdio, whose locks a thread of the parent
    # (a progress bar) may have held at the fork, and would then wait forever.
    os._exit(status)


def in_background(task: Callable[[], T], parallel: bool) -> Callable[[], T]:
    """Run `task` in a forked process when `parallel` (and fork is safe here); the
    returned function waits for its result. Otherwise run it now."""
    if not parallel or sys.platform != "linux":
        result = task()
        return lambda: result
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(task, send), name="sample-writer")
    process.start()
    send.close()

    def wait() -> T:
        try:
            status, payload = receive.recv()
        except EOFError as e:
            process.join()
            raise RuntimeError(f"a sample writer died (exit code {process.exitcode})") from e
        finally:
            receive.close()
        process.join()
        if status != "ok":
            raise RuntimeError(f"writing the sample failed:\n{payload}")
        result: T = payload
        return result

    return wait
