"""What a query can and cannot tell apart, computed from the rows actually written.

Every expectation in expected.jsonl is checked against this index: a target is used
for a resolvable query only if the facts the query carries point at the target's
entity alone among the live rows of all entity types. Values become integer codes
(pandas.factorize) and questions are asked about a table row, so a million-row master
indexes in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from rapidfuzz import fuzz, process

from sandbox.synthetic.fmt import each
from sandbox.synthetic.text import ObjArray, as_objects, name_key

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

SUPPLIER, CUSTOMER, EMPLOYEE, CONTACT = "supplier", "customer", "employee", "contact"
ENTITY_TYPES = (SUPPLIER, CUSTOMER, EMPLOYEE, CONTACT)


@dataclass(frozen=True)
class Part:
    """One table's rows as the index needs them, in the table's row order."""

    entity_type: str
    ids: ObjArray
    entity: IntArray
    deleted: BoolArray
    body: ObjArray
    city: IntArray
    tax: IntArray  # one key per tax number as written; -1 when blank
    email: ObjArray
    cep: IntArray  # CEP as written, as a number; -1 when blank


def _codes(values: npt.NDArray[Any], missing: object = None) -> tuple[IntArray, ObjArray]:
    """Dense codes 0…k-1 per distinct value (-1 for `missing`), and the distinct values."""
    codes, uniques = pd.factorize(values)
    codes = codes.astype(np.int64)
    if missing is not None:
        codes[values == missing] = -1
    return codes, np.asarray(uniques, dtype=object)


def _distinct(values: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted distinct values and their counts (faster than np.unique on this numpy)."""
    ordered = np.sort(values)
    if not len(ordered):
        return ordered, ordered
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    counts = np.diff(np.append(starts, len(ordered)))
    return ordered[starts], counts


class _Groups:
    """Rows grouped by an integer key (-1 = none), and distinct entities per key."""

    def __init__(self, keys: IntArray, entity: IntArray, n_entities: int) -> None:
        self._keys_of_rows = keys
        self._order: IntArray | None = None
        self._sorted: IntArray | None = None
        pairs, _ = _distinct(keys * n_entities + entity)
        self._keys, self._spread = _distinct(pairs // n_entities)

    def rows(self, key: int) -> IntArray:
        if key < 0:
            return np.empty(0, dtype=np.int64)
        if self._order is None or self._sorted is None:
            # Sorting a few million keys costs a second: only groups asked for rows pay it.
            self._order = np.argsort(self._keys_of_rows, kind="stable")
            self._sorted = self._keys_of_rows[self._order]
        lo, hi = np.searchsorted(self._sorted, [key, key + 1])
        rows: IntArray = self._order[lo:hi]
        return rows

    def entities(self, key: int) -> int:
        i = int(np.searchsorted(self._keys, key))
        found = key >= 0 and i < len(self._keys) and self._keys[i] == key
        return int(self._spread[i]) if found else 0


def _block_word(core: str) -> str:
    """Blocking key of a name key: the first two letters of its first and last words.

    Names a resolver could confuse (ratio ≥ 85) differ by a few letters, nearly always
    inside the words, so they share this key; blocks stay small even in São Paulo.
    """
    words = core.split(" ")
    return words[0][:2] + "|" + words[-1][:2]


class Lookup:
    """Live rows of all tables, asked about by (entity type, table row)."""

    def __init__(self, parts: list[Part], similar: float = 85.0) -> None:
        live = [np.flatnonzero(~p.deleted) for p in parts]
        self._position = []
        start = 0
        for p, rows in zip(parts, live, strict=True):
            position = np.full(len(p.ids), -1, dtype=np.int64)
            position[rows] = start + np.arange(len(rows))
            self._position.append(position)
            start += len(rows)

        def cat(values: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
            return np.concatenate([v[r] for v, r in zip(values, live, strict=True)])

        # Name keys are computed once per distinct name body, then coded globally.
        bodies = [_codes(p.body) for p in parts]
        keys = as_objects([name_key(b) for _, uniques in bodies for b in uniques.tolist()])
        core_of_body, self._core_text = _codes(keys)
        self.all_cores = frozenset(self._core_text.tolist())
        offsets = np.cumsum([0] + [len(uniques) for _, uniques in bodies])
        row_cores = [core_of_body[offsets[i] + codes] for i, (codes, _) in enumerate(bodies)]
        self._core_codes = cat(row_cores)
        self.core = self._core_text[self._core_codes]
        self.etype = cat([np.full(len(p.ids), i) for i, p in enumerate(parts)])
        self.cid = cat([p.ids for p in parts])
        self.city = cat([p.city for p in parts]).astype(np.int64)
        self._similar = similar
        self._entity, _ = _codes(cat([p.entity for p in parts]))
        n_ent = int(self._entity.max()) + 2 if len(self._entity) else 1
        self._n_city = int(self.city.max()) + 1 if len(self.city) else 1
        self._by_entity = _Groups(self._entity, self._entity, n_ent)
        self._by_core = _Groups(self._core_codes, self._entity, n_ent)
        self._name_city = _Groups(self._core_codes * self._n_city + self.city, self._entity, n_ent)
        emails = cat([each(p.email, str.lower) for p in parts])
        self._keyed: dict[str, tuple[IntArray, _Groups, _Groups]] = {}
        for name, values, missing in (
            ("tax", cat([p.tax for p in parts]), -1),
            ("email", emails, ""),
            ("cep", cat([p.cep for p in parts]), -1),
        ):
            codes, _ = _codes(values, missing)
            by_type = _Groups(codes, self.etype, len(ENTITY_TYPES))
            self._keyed[name] = (codes, _Groups(codes, self._entity, n_ent), by_type)
        words, word_uniques = _codes(as_objects([_block_word(c) for c in self._core_text]))
        self._block_index = {str(w): i for i, w in enumerate(word_uniques.tolist())}
        block_keys = words[self._core_codes] * self._n_city + self.city
        self._block = _Groups(block_keys, self._entity, n_ent)

    def core_of(self, entity_type: str, rows: IntArray) -> ObjArray:
        """Name keys of live table rows."""
        cores: ObjArray = self.core[self._position[ENTITY_TYPES.index(entity_type)][rows]]
        return cores

    def position(self, entity_type: str, row: int) -> int:
        """Position of a table row in the index; -1 if the row is deleted."""
        return int(self._position[ENTITY_TYPES.index(entity_type)][row])

    def table_rows(self, entity_type: str) -> IntArray:
        """Table rows of the live records of one entity type."""
        position = self._position[ENTITY_TYPES.index(entity_type)]
        return np.flatnonzero(position >= 0)

    def _of_type(self, rows: IntArray, entity_type: str) -> list[str]:
        rows = rows[self.etype[rows] == ENTITY_TYPES.index(entity_type)]
        return sorted(str(c) for c in self.cid[rows])

    def same_entity(self, entity_type: str, row: int, among: str | None = None) -> list[str]:
        """Canonical ids of the live rows (of type `among`, default the row's own type)
        that belong to the same entity as this row."""
        pos = self.position(entity_type, row)
        return self._of_type(self._by_entity.rows(int(self._entity[pos])), among or entity_type)

    def ids_with_core(self, entity_type: str, row: int, among: str) -> list[str]:
        """Canonical ids of live rows of type `among` with this row's name key."""
        pos = self.position(entity_type, row)
        return self._of_type(self._by_core.rows(int(self._core_codes[pos])), among)

    def entities_with_core(self, entity_type: str, row: int, among: str) -> int:
        """How many entities of type `among` have a live row with this row's name key."""
        pos = self.position(entity_type, row)
        rows = self._by_core.rows(int(self._core_codes[pos]))
        rows = rows[self.etype[rows] == ENTITY_TYPES.index(among)]
        return len(_distinct(self._entity[rows])[0])

    def unique_name_city(self, entity_type: str, row: int) -> bool:
        """This row's entity is the only one with a live row of its name key in its city."""
        pos = self.position(entity_type, row)
        key = int(self._core_codes[pos]) * self._n_city + int(self.city[pos])
        return pos >= 0 and self._name_city.entities(key) == 1

    def unique(self, field: str, entity_type: str, row: int, single_type: bool = False) -> bool:
        """This row's `field` ('tax', 'email' or 'cep') is held by its entity alone (and, if
        asked, only within its own entity type); False when the row has none."""
        pos = self.position(entity_type, row)
        codes, by_entity, by_type = self._keyed[field]
        code = int(codes[pos]) if pos >= 0 else -1
        if code < 0 or by_entity.entities(code) != 1:
            return False
        return not single_type or by_type.entities(code) == 1

    def isolated(self, entity_type: str, row: int) -> bool:
        """No live row of another entity in this row's city has a similar name key."""
        pos = self.position(entity_type, row)
        return self.isolated_name(str(self.core[pos]), int(self.city[pos]), int(self._entity[pos]))

    def isolated_name(self, core: str, city: int, entity: int = -1) -> bool:
        """No live row (of an entity other than `entity`) in `city` has a name key similar
        to `core`. Candidates share the blocking key of `_block_word` (as a resolver would
        block); similarity is rapidfuzz's ratio."""
        code = self._block_index.get(_block_word(core), -1)
        rows = self._block.rows(code * self._n_city + city if code >= 0 else -1)
        rows = rows[self._entity[rows] != entity]
        if not len(rows):
            return True
        choices = self.core[rows].tolist()
        best = process.extractOne(core, choices, scorer=fuzz.ratio, score_cutoff=self._similar)
        return best is None
