"""Fast string formatting for whole columns.

A Python f-string costs about a microsecond per cell; for millions of cells we index
small pre-formatted pools, concatenate object arrays with `+` (one C loop), and apply
per-string functions only to the distinct values.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.dtypes import StringDType

from sandbox.synthetic.text import ObjArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@cache
def _pool(width: int) -> ObjArray:
    """'000'…'999' for width 3 (widths 1–3), so any width is a few lookups away."""
    pool = np.empty(10**width, dtype=object)
    pool[:] = [f"{i:0{width}d}" for i in range(10**width)]
    return pool


@cache
def _plain() -> ObjArray:
    pool = np.empty(1000, dtype=object)
    pool[:] = [str(i) for i in range(1000)]
    return pool


def padded(values: IntArray, width: int) -> ObjArray:
    """Zero-padded decimals ('000123') of non-negative values below 10**width."""
    if width <= 3:
        return _pool(width)[values]
    return padded(values // 1000, width - 3) + _pool(3)[values % 1000]  # type: ignore[no-any-return]


def decimal(values: IntArray) -> ObjArray:
    """Plain decimals ('123') of non-negative values."""
    out: ObjArray = _plain()[np.minimum(values, 999)]
    big = np.flatnonzero(values >= 1000)
    if len(big):
        out[big] = decimal(values[big] // 1000) + _pool(3)[values[big] % 1000]
    return out


def day_strings(days: npt.NDArray[np.datetime64]) -> ObjArray:
    """'YYYYMMDD' for dates (one formatted string per distinct day)."""
    if not len(days):
        return np.empty(0, dtype=object)
    ordinal = days.astype("datetime64[D]").astype(np.int64)
    first = int(ordinal.min())
    span = np.datetime64(first, "D") + np.arange(int(ordinal.max()) - first + 1)
    pool = np.empty(len(span), dtype=object)
    pool[:] = [d.replace("-", "") for d in np.datetime_as_string(span).tolist()]
    return pool[ordinal - first]


def money(cents: IntArray) -> ObjArray:
    """'1234.50' from 123450 (non-negative cents)."""
    units = (cents // 100).astype(StringDType())
    fraction = np.strings.zfill((cents % 100).astype(StringDType()), 2)
    return np.strings.add(np.strings.add(units, "."), fraction).astype(object)


def per_unique(values: ObjArray, func: Callable[[str], str]) -> ObjArray:
    """`func` applied once per distinct value, spread back to every row (worth it when
    values repeat and `func` is dearer than hashing)."""
    codes, uniques = pd.factorize(values)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [func(v) for v in uniques.tolist()]
    return mapped[codes]


def each(values: ObjArray, func: Callable[[str], str]) -> ObjArray:
    """`func` applied to every value, as an object array."""
    out = np.empty(len(values), dtype=object)
    out[:] = [func(v) for v in values.tolist()]
    return out


def choose(mask: BoolArray, when: ObjArray, otherwise: ObjArray) -> ObjArray:
    """Element-wise choice between two object arrays."""
    out = otherwise.copy()
    out[mask] = when[mask]
    return out
