"""Column tables as plain dicts of equally long numpy arrays.

pandas would infer Arrow-backed string columns for every assignment and make the
million-row paths several times slower; a dict of object arrays stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Frame = dict[str, npt.NDArray[Any]]


def length(frame: Frame) -> int:
    """Row count (all columns have the same length)."""
    return len(next(iter(frame.values()))) if frame else 0


def take(frame: Frame, index: npt.NDArray[np.int64]) -> Frame:
    """The rows at `index`, as copies."""
    return {name: col[index] for name, col in frame.items()}


def concat(frames: list[Frame]) -> Frame:
    """Rows of all frames, in order; columns must match."""
    names = list(frames[0])
    return {name: np.concatenate([f[name] for f in frames]) for name in names}


def filled(size: int, value: object) -> npt.NDArray[np.object_]:
    """An object array of `size` copies of `value`."""
    out = np.empty(size, dtype=object)
    out[:] = [value] * size
    return out
