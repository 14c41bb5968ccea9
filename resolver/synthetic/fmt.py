"""Fast string formatting for whole columns.

A Python f-string costs about a microsecond per cell; for millions of cells we index
pre-formatted pools, concatenate object arrays with `+` (one C loop), and apply
per-string functions only to the distinct values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.dtypes import StringDType

from resolver.synthetic.text import ObjArray

IntArray = npt.NDArray[np.int64]

_POOLS: dict[int, ObjArray] = {}


def _pool(width: int, size: int) -> ObjArray:
    if size > 5_000_000:
        raise ValueError(f"no pool of {size} strings: split the number into smaller parts")
    pool = _POOLS.get(width)
    if pool is None or len(pool) < size:
        grown = max(size, 2 * len(pool) if pool is not None else 1024)
        pool = np.empty(grown, dtype=object)
        pool[:] = (
            [f"{i:0{width}d}" for i in range(grown)] if width else [str(i) for i in range(grown)]
        )
        _POOLS[width] = pool
    return pool


def padded(values: IntArray, width: int) -> ObjArray:
    """Zero-padded decimals ('000123'); non-negative values only."""
    if not len(values):
        return np.empty(0, dtype=object)
    return _pool(width, int(values.max()) + 1)[values]  # type: ignore[no-any-return]


def decimal(values: IntArray) -> ObjArray:
    """Plain decimals ('123'); non-negative values only."""
    return padded(values, 0)


def money(cents: IntArray) -> ObjArray:
    """'1234.50' from 123450 (non-negative cents)."""
    units = (cents // 100).astype(StringDType())
    fraction = np.strings.zfill((cents % 100).astype(StringDType()), 2)
    return np.strings.add(np.strings.add(units, "."), fraction).astype(object)  # type: ignore[no-any-return]


def per_unique(values: ObjArray, func: Callable[[str], str]) -> ObjArray:
    """`func` applied once per distinct value, spread back to every row."""
    codes, uniques = pd.factorize(values)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [func(v) for v in uniques.tolist()]
    return mapped[codes]  # type: ignore[no-any-return]


def choose(mask: npt.NDArray[np.bool_], when: ObjArray, otherwise: ObjArray) -> ObjArray:
    """Element-wise choice between two object arrays (np.where keeps object dtype)."""
    return np.where(mask, when, otherwise).astype(object)
