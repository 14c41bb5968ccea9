"""What a query can and cannot tell apart, computed from the rows actually written.

Every expectation in expected.jsonl is checked against this index: a target is used
for a resolvable query only if the facts the query carries point at the target's
entity alone among the live rows of all entity types. Values become integer codes
(pandas.factorize) and questions are asked about a table row, so a million-row master
indexes in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from rapidfuzz import fuzz, process

from resolver.synthetic.fmt import each, per_unique
from resolver.synthetic.text import ObjArray, as_objects, name_key

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

SUPPLIER, CUSTOMER, EMPLOYEE, CONTACT = "supplier", "customer", "employee", "contact"
ENTITY_TYPES = (SUPPLIER, CUSTOMER, EMPLOYEE, CONTACT)


@dataclass(frozen=True)
class Part:
    """One table's rows as the index needs them, in the table's row order."""

    entity_type: str
    ids: ObjArray
    entity: ObjArray
    deleted: BoolArray
    body: ObjArray
    city: IntArray
    tax: ObjArray  # digits as written, '' when blank
    email: ObjArray
    cep: ObjArray  # digits as written, '' when blank


def _codes(values: ObjArray, blank_is_missing: bool = False) -> tuple[IntArray, ObjArray]:
    codes, uniques = pd.factorize(values)
    codes = codes.astype(np.int64)
    if blank_is_missing:
        blank = np.flatnonzero(np.asarray(uniques, dtype=object) == "")
        if len(blank):
            codes[codes == blank[0]] = -1
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
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]
        pairs, _ = _distinct(keys * n_entities + entity)
        self._keys, self._spread = _distinct(pairs // n_entities)

    def rows(self, key: int) -> IntArray:
        if key < 0:
            return np.empty(0, dtype=np.int64)
        lo, hi = np.searchsorted(self._sorted, [key, key + 1])
        return self._order[lo:hi]

    def entities(self, key: int) -> int:
        i = int(np.searchsorted(self._keys, key))
        found = key >= 0 and i < len(self._keys) and self._keys[i] == key
        return int(self._spread[i]) if found else 0


def _block_word(core: str, rank: int) -> str:
    """Blocking words of a name key: rank 0 its first word, rank 1 its longest."""
    return core.split(" ", 1)[0] if rank == 0 else max(core.split(" "), key=len)


class Lookup:
    """Live rows of all tables, asked about by (entity type, table row)."""

    def __init__(self, parts: list[Part], similar: float = 85.0) -> None:
        cores = [per_unique(p.body, name_key) for p in parts]
        self.all_cores = frozenset(np.concatenate(cores).tolist())
        live = [np.flatnonzero(~p.deleted) for p in parts]
        self._position = []
        start = 0
        for p, rows in zip(parts, live, strict=True):
            position = np.full(len(p.ids), -1, dtype=np.int64)
            position[rows] = start + np.arange(len(rows))
            self._position.append(position)
            start += len(rows)

        def cat(name: str) -> ObjArray:
            return np.concatenate([getattr(p, name)[r] for p, r in zip(parts, live, strict=True)])

        self.etype = np.concatenate([np.full(len(r), i) for i, r in enumerate(live)])
        self.cid = cat("ids")
        self.core = np.concatenate([c[r] for c, r in zip(cores, live, strict=True)])
        self.city = cat("city").astype(np.int64)
        self._similar = similar
        self._entity, _ = _codes(cat("entity"))
        n_ent = int(self._entity.max()) + 2 if len(self._entity) else 1
        self._n_city = int(self.city.max()) + 1 if len(self.city) else 1
        self._core_codes, core_uniques = _codes(self.core)
        self._by_entity = _Groups(self._entity, self._entity, n_ent)
        self._by_core = _Groups(self._core_codes, self._entity, n_ent)
        self._name_city = _Groups(self._core_codes * self._n_city + self.city, self._entity, n_ent)
        self._keyed: dict[str, tuple[IntArray, _Groups, _Groups]] = {}
        for name in ("tax", "email", "cep"):
            values = cat(name)
            codes, _ = _codes(each(values, str.lower) if name == "email" else values, True)
            by_type = _Groups(codes, self.etype, len(ENTITY_TYPES))
            self._keyed[name] = (codes, _Groups(codes, self._entity, n_ent), by_type)
        self._blocks = []
        for rank in (0, 1):
            words, word_uniques = _codes(as_objects([_block_word(c, rank) for c in core_uniques]))
            index = {str(w): i for i, w in enumerate(word_uniques.tolist())}
            keys = words[self._core_codes] * self._n_city + self.city
            self._blocks.append((index, _Groups(keys, self._entity, n_ent)))

    def core_of(self, entity_type: str, rows: IntArray) -> ObjArray:
        """Name keys of live table rows."""
        return self.core[self._position[ENTITY_TYPES.index(entity_type)][rows]]

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
        to `core`. Candidates share the name's first or longest word (blocking, as a
        resolver would); similarity is rapidfuzz's ratio."""
        found = []
        for rank, (index, groups) in enumerate(self._blocks):
            code = index.get(_block_word(core, rank), -1)
            found.append(groups.rows(code * self._n_city + city if code >= 0 else -1))
        rows = np.concatenate(found)
        rows = rows[self._entity[rows] != entity]
        if not len(rows):
            return True
        choices = self.core[rows].tolist()
        best = process.extractOne(core, choices, scorer=fuzz.ratio, score_cutoff=self._similar)
        return best is None
