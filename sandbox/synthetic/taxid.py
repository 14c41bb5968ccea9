"""Brazilian CNPJ/CPF and Swiss UID numbers, computed for whole arrays at once.

The check-digit arithmetic is the one of python-stdnum (`stdnum.br.cnpj`,
`stdnum.br.cpf`, `stdnum.ch.uid`); the tests hold these functions equal to it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sandbox.synthetic import fmt
from sandbox.synthetic.text import ObjArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_CNPJ_W1 = np.array([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_CNPJ_W2 = np.array([6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_CPF_W1 = np.arange(10, 1, -1, dtype=np.int64)
_CPF_W2 = np.arange(11, 1, -1, dtype=np.int64)
_UID_W = np.array([5, 4, 3, 2, 7, 6, 5, 4], dtype=np.int64)


def _digits(values: IntArray, width: int) -> IntArray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers[None, :]) % 10


def _mod11(digits: IntArray, weights: IntArray) -> IntArray:
    return (11 - (digits @ weights) % 11) % 11 % 10


def cnpj_check_digits(root: IntArray, branch: IntArray) -> IntArray:
    """The two check digits (as 0..99) of CNPJ root (8 digits) + branch (4 digits)."""
    digits = _digits(root * 10_000 + branch, 12)
    d1 = _mod11(digits, _CNPJ_W1)
    d2 = _mod11(np.column_stack([digits, d1]), _CNPJ_W2)
    return d1 * 10 + d2


def cpf_check_digits(base: IntArray) -> IntArray:
    """The two check digits (as 0..99) of a 9-digit CPF base."""
    digits = _digits(base, 9)
    d1 = _mod11(digits, _CPF_W1)
    d2 = _mod11(np.column_stack([digits, d1]), _CPF_W2)
    return d1 * 10 + d2


def uid_check_digit(base: IntArray) -> IntArray:
    """Swiss UID check digit of an 8-digit base; 10 means the base has no valid UID."""
    return (11 - (_digits(base, 8) @ _UID_W) % 11) % 11


def spoil(check: IntArray, rng: np.random.Generator) -> IntArray:
    """Check digits that are certainly wrong: the last digit moved by 1..9."""
    shift = rng.integers(1, 10, size=len(check))
    return (check // 10) * 10 + (check % 10 + shift) % 10


def cnpj_text(root: IntArray, branch: IntArray, check: IntArray, pretty: bool) -> ObjArray:
    """CNPJs as '12.345.678/0001-95' (pretty) or '12345678000195'."""
    a, b = fmt.padded(root // 1_000_000, 2), fmt.padded(root // 1000 % 1000, 3)
    c, tail, dv = fmt.padded(root % 1000, 3), fmt.padded(branch, 4), fmt.padded(check, 2)
    if pretty:
        return a + "." + b + "." + c + "/" + tail + "-" + dv  # type: ignore[no-any-return]
    return a + b + c + tail + dv  # type: ignore[no-any-return]


def cpf_text(base: IntArray, check: IntArray, pretty: bool) -> ObjArray:
    """CPFs as '123.456.789-09' (pretty) or '12345678909'."""
    a, b = fmt.padded(base // 1_000_000, 3), fmt.padded(base // 1000 % 1000, 3)
    c, dv = fmt.padded(base % 1000, 3), fmt.padded(check, 2)
    if pretty:
        return a + "." + b + "." + c + "-" + dv  # type: ignore[no-any-return]
    return a + b + c + dv  # type: ignore[no-any-return]


def uid_strings(base: IntArray, check: IntArray) -> ObjArray:
    """'CHE-123.456.789' from 8-digit bases and their check digits."""
    a, b, c = (
        fmt.padded(base // 100_000, 3),
        fmt.padded(base // 100 % 1000, 3),
        fmt.padded(base % 100, 2),
    )
    return "CHE-" + a + "." + b + "." + c + fmt.decimal(check)  # type: ignore[no-any-return]


class NumberPool:
    """Unique random numbers handed out in order, so no tax id is ever issued twice.

    Drawing all of them up front keeps the result independent of the order in which
    the tables ask for numbers.
    """

    def __init__(self, values: IntArray) -> None:
        self._values = values
        self._next = 0

    @classmethod
    def draw(cls, rng: np.random.Generator, low: int, high: int, size: int) -> NumberPool:
        """A pool of `size` distinct numbers in [low, high)."""
        return cls(unique_ints(rng, low, high, size))

    def take(self, count: int) -> IntArray:
        """The next `count` unused numbers."""
        if self._next + count > len(self._values):
            raise ValueError("number pool exhausted; the size estimate is too small")
        out = self._values[self._next : self._next + count]
        self._next += count
        return out


def unique_ints(rng: np.random.Generator, low: int, high: int, size: int) -> IntArray:
    """`size` distinct integers in [low, high), in random order."""
    found = np.empty(0, dtype=np.int64)
    while len(found) < size:
        draw = np.concatenate(
            [found, rng.integers(low, high, size=int((size - len(found)) * 1.1) + 64)]
        )
        _, first = np.unique(draw, return_index=True)
        found = draw[np.sort(first)]
    return found[:size].astype(np.int64)
