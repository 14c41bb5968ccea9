"""Real-world entity ids: integers while generating, 'S0000123/02' in the truth file.

Integers group and compare in numpy at C speed; the text form is made once, on output.
A code is kind × 10¹⁰ + number × 100 + branch (0 for a head office or a person).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sandbox.synthetic import fmt
from sandbox.synthetic.text import ObjArray, as_objects

IntArray = npt.NDArray[np.int64]

SUPPLIER_COMPANY, CUSTOMER_COMPANY, EMPLOYEE_PERSON, CONTACT_PERSON = 1, 2, 3, 4
_LETTERS = as_objects(["", "S", "C", "P", "K"])
_KIND = 10**10


def new_entities(kind: int, first: int, count: int) -> IntArray:
    """Codes of `count` new entities of one kind, numbered from `first`."""
    return kind * _KIND + (first + np.arange(count, dtype=np.int64)) * 100


def entity_names(codes: IntArray) -> ObjArray:
    """'S0000123' for a company or person, 'S0000123/02' for a branch."""
    number = codes % _KIND // 100
    names: ObjArray = _LETTERS[codes // _KIND] + fmt.padded(number, 7)
    branch = np.flatnonzero(codes % 100 > 0)
    names[branch] = names[branch] + "/" + fmt.padded(codes[branch] % 100, 2)
    return names
